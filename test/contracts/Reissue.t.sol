// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {CertificateRegistry} from "../../contracts/CertificateRegistry.sol";
import {Vm} from "./Vm.sol";
import {OneCertificateFixture} from "./RegistryFixture.sol";

/**
 * @notice Re-issue after revocation. The token id is the content hash, so a
 * revoked certificate would hold its content for good; an admin may approve one
 * named issuer to certify that content again. The revoked record moves to the
 * token's history, readable on chain.
 */
contract ReissueTest is OneCertificateFixture {
    bytes32 private constant ADMIN_ROLE = 0x00;

    /// `minted` is the certificate the wrong issuer minted; the admin revokes it.
    function setUp() public override {
        super.setUp();
        mintOne(1_000);
        vm.prank(ADMIN);
        registry.revoke(tokenId, "issued in error: not this issuer's media");
        vm.warp(T0 + 2 days);
    }

    /// OTHER_ISSUER's re-issue of the content must revert with `err`.
    function _expectReissueRefused(bytes memory err) private {
        expectRevertFrom(OTHER_ISSUER, err);
        registry.reissue(BOB, _again());
    }

    /// The same content, with new metadata and a new verdict.
    function _again() internal view returns (CertificateRegistry.MintRequest memory req) {
        req = request(43);
        req.contentHash = minted.contentHash;
        req.label = CertificateRegistry.Label.LikelyManipulated;
        req.scoreBps = 9_000;
    }

    function _approve(address issuer) internal {
        vm.prank(ADMIN);
        registry.approveReissue(tokenId, issuer, "wrong issuer; the rightful one certifies it");
    }

    // ---- without approval nothing changes ----

    function test_RevokedContentCannotBeReissuedWithoutApproval() public {
        _expectReissueRefused(abi.encodeWithSelector(CertificateRegistry.ReissueNotApproved.selector, tokenId, OTHER_ISSUER));
        assertEq(registry.reissueApprovedFor(tokenId), address(0), "no approval");
    }

    function test_ApprovalDoesNotOpenPlainMint() public {
        _approve(OTHER_ISSUER);
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.CertificateExists.selector, tokenId));
        mintAs(OTHER_ISSUER, BOB, _again());
    }

    // ---- approval ----

    function test_AdminApprovesNamingIssuerAndReason() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit CertificateRegistry.ReissueApproved(tokenId, ADMIN, OTHER_ISSUER, "rightful issuer");
        vm.prank(ADMIN);
        registry.approveReissue(tokenId, OTHER_ISSUER, "rightful issuer");
        assertEq(registry.reissueApprovedFor(tokenId), OTHER_ISSUER, "approved issuer");
        assertTrue(registry.isRevoked(tokenId), "still revoked until re-issued");
    }

    function test_OnlyAnAdminApproves() public {
        address[3] memory callers = [ISSUER, OTHER_ISSUER, ALICE];
        for (uint256 i = 0; i < callers.length; ++i) {
            expectRevertFrom(
                callers[i],
                abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, callers[i], ADMIN_ROLE)
            );
            registry.approveReissue(tokenId, OTHER_ISSUER, "mine now");
        }
    }

    function test_ApprovalNeedsARevokedCertificate() public {
        uint256 valid = mintAs(ISSUER, ALICE, request(7));
        vm.startPrank(ADMIN);
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.CertificateNotRevoked.selector, valid));
        registry.approveReissue(valid, OTHER_ISSUER, "not revoked");
        uint256 unknown = uint256(request(8).contentHash);
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.UnknownCertificate.selector, unknown));
        registry.approveReissue(unknown, OTHER_ISSUER, "no such certificate");
        vm.stopPrank();
    }

    function test_ApprovalNeedsAReasonAndAnIssuer() public {
        vm.startPrank(ADMIN);
        vm.expectRevert(CertificateRegistry.EmptyReason.selector);
        registry.approveReissue(tokenId, OTHER_ISSUER, "");
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.NotAnIssuer.selector, STRANGER));
        registry.approveReissue(tokenId, STRANGER, "not an issuer");
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.NotAnIssuer.selector, address(0)));
        registry.approveReissue(tokenId, address(0), "nobody");
        vm.stopPrank();
    }

    function test_ApprovingAgainNamesAnotherIssuer() public {
        _approve(OTHER_ISSUER);
        _approve(ISSUER);
        assertEq(registry.reissueApprovedFor(tokenId), ISSUER, "the later approval holds");
        _expectReissueRefused(abi.encodeWithSelector(CertificateRegistry.ReissueNotApproved.selector, tokenId, OTHER_ISSUER));
    }

    // ---- re-issue ----

    function test_ApprovedIssuerReissuesAndRevokedRecordGoesToHistory() public {
        _approve(OTHER_ISSUER);
        CertificateRegistry.MintRequest memory req = _again();
        vm.expectEmit(true, true, true, true, address(registry));
        emit IERC721.Transfer(ALICE, address(0), tokenId);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IERC721.Transfer(address(0), BOB, tokenId);
        vm.expectEmit(true, true, true, true, address(registry));
        emit CertificateRegistry.CertificateReissued(
            tokenId, OTHER_ISSUER, BOB, req.metadataDigest, req.label, req.scoreBps, req.phash, req.pdq,
            T0 + 2 days, 1
        );
        vm.prank(OTHER_ISSUER);
        assertEq(registry.reissue(BOB, req), tokenId, "same token id");

        CertificateRegistry.Certificate memory cert = registry.certificate(tokenId);
        assertEq(cert.contentHash, minted.contentHash, "content");
        assertEq(cert.metadataDigest, req.metadataDigest, "new digest");
        assertEq(cert.issuer, OTHER_ISSUER, "new issuer");
        assertEq(cert.issuedAt, T0 + 2 days, "new issue time");
        assertEq(uint256(cert.label), uint256(req.label), "new label");
        assertEq(cert.scoreBps, req.scoreBps, "new score");
        assertEq(cert.revoked, false, "valid again");
        assertEq(cert.owner, BOB, "new holder");
        assertTrue(!registry.isRevoked(tokenId), "isRevoked");
        assertEq(registry.balanceOf(ALICE), 0, "old holder's balance");
        assertEq(registry.balanceOf(BOB), 1, "new holder's balance");
        assertEq(registry.reissueApprovedFor(tokenId), address(0), "approval used up");
        assertEq(registry.tokenOfContent(minted.contentHash), tokenId, "found by content");

        CertificateRegistry.Certificate[] memory past = registry.history(tokenId);
        assertEq(past.length, 1, "one earlier record");
        assertEq(past[0].contentHash, minted.contentHash, "past content");
        assertEq(past[0].metadataDigest, minted.metadataDigest, "past digest");
        assertEq(past[0].issuer, ISSUER, "past issuer");
        assertEq(past[0].issuedAt, T0, "past issue time");
        assertEq(uint256(past[0].label), uint256(minted.label), "past label");
        assertEq(past[0].scoreBps, minted.scoreBps, "past score");
        assertEq(past[0].revoked, true, "past record revoked");
        assertEq(past[0].owner, ALICE, "past holder");
    }

    function test_ReissueToTheSameHolderKeepsItsBalance() public {
        _approve(ISSUER);
        vm.prank(ISSUER);
        registry.reissue(ALICE, _again());
        assertEq(registry.balanceOf(ALICE), 1, "balance");
        assertEq(registry.ownerOf(tokenId), ALICE, "owner");
        assertEq(registry.certificate(tokenId).issuer, ISSUER, "issuer");
    }

    function test_ApprovalIsForOneReissue() public {
        _approve(OTHER_ISSUER);
        vm.prank(OTHER_ISSUER);
        registry.reissue(BOB, _again());
        _expectReissueRefused(abi.encodeWithSelector(CertificateRegistry.ReissueNotApproved.selector, tokenId, OTHER_ISSUER));
    }

    function test_ReissuedCertificateCanBeRevokedAndReissuedAgain() public {
        _approve(OTHER_ISSUER);
        vm.prank(OTHER_ISSUER);
        registry.reissue(BOB, _again());
        // The new issuer owns its certificate: it may re-attest it; the first issuer may not touch it.
        expectRevertFrom(ISSUER, abi.encodeWithSelector(CertificateRegistry.NotCertificateIssuer.selector, ISSUER, tokenId));
        registry.revoke(tokenId, "not mine any more");
        vm.prank(OTHER_ISSUER);
        registry.revoke(tokenId, "second thoughts");
        vm.prank(ADMIN);
        registry.approveReissue(tokenId, ISSUER, "back to the first issuer");
        CertificateRegistry.MintRequest memory third = request(44);
        third.contentHash = minted.contentHash;
        vm.prank(ISSUER);
        registry.reissue(ALICE, third);

        CertificateRegistry.Certificate[] memory past = registry.history(tokenId);
        assertEq(past.length, 2, "two earlier records");
        assertEq(past[0].issuer, ISSUER, "oldest first");
        assertEq(past[1].issuer, OTHER_ISSUER, "then the second");
        assertEq(past[1].metadataDigest, request(43).metadataDigest, "second digest");
        assertEq(past[1].owner, BOB, "second holder");
        assertEq(registry.certificate(tokenId).metadataDigest, third.metadataDigest, "current");
        assertEq(registry.balanceOf(BOB), 0, "BOB's balance");
        assertEq(registry.balanceOf(ALICE), 1, "ALICE's balance");
    }

    function test_ApprovedIssuerThatLostItsRoleCannotReissue() public {
        _approve(OTHER_ISSUER);
        vm.prank(ADMIN);
        registry.revokeRole(issuerRole, OTHER_ISSUER);
        _expectReissueRefused(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, OTHER_ISSUER, issuerRole)
        );
    }

    function test_ReissueChecksItsRequest() public {
        _approve(OTHER_ISSUER);
        CertificateRegistry.MintRequest memory req = _again();
        req.scoreBps = 10_001;
        vm.startPrank(OTHER_ISSUER);
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.InvalidScore.selector, 10_001));
        registry.reissue(BOB, req);
        req = _again();
        req.metadataDigest = 0;
        vm.expectRevert(CertificateRegistry.EmptyHash.selector);
        registry.reissue(BOB, req);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, address(0)));
        registry.reissue(address(0), _again());
        vm.stopPrank();
        // Nothing moved.
        assertEq(registry.reissueApprovedFor(tokenId), OTHER_ISSUER, "approval kept");
        assertEq(registry.history(tokenId).length, 0, "no history");
        assertTrue(registry.isRevoked(tokenId), "still revoked");
        assertEq(registry.ownerOf(tokenId), ALICE, "still with its holder");
    }

    function test_ReissueClearsTheOldHoldersApproval() public {
        vm.prank(ALICE);
        registry.approve(STRANGER, tokenId);
        _approve(OTHER_ISSUER);
        vm.prank(OTHER_ISSUER);
        registry.reissue(BOB, _again());
        assertEq(registry.getApproved(tokenId), address(0), "approval of the old token gone");
        expectRevertFrom(STRANGER, abi.encodeWithSelector(IERC721Errors.ERC721InsufficientApproval.selector, STRANGER, tokenId));
        registry.transferFrom(BOB, STRANGER, tokenId);
    }

    function test_HistoryIsEmptyForACertificateNeverReissued() public {
        uint256 other = mintAs(ISSUER, ALICE, request(9));
        assertEq(registry.history(other).length, 0, "no history");
        assertEq(registry.history(tokenId).length, 0, "revoked, not yet re-issued");
        uint256 unknown = uint256(request(10).contentHash);
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.UnknownCertificate.selector, unknown));
        registry.history(unknown);
    }

    function test_EachStateChangeEmitsOneRegistryEvent() public {
        vm.recordLogs();
        _approve(OTHER_ISSUER);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "approval: one event");
        assertEq(logs[0].topics[0], CertificateRegistry.ReissueApproved.selector, "ReissueApproved");

        vm.prank(OTHER_ISSUER);
        registry.reissue(BOB, _again());
        logs = vm.getRecordedLogs();
        // Burn and mint of the ERC-721 token, then the registry's own event.
        assertEq(logs.length, 3, "re-issue: two Transfers and one CertificateReissued");
        assertEq(logs[2].topics[0], CertificateRegistry.CertificateReissued.selector, "CertificateReissued");
    }
}
