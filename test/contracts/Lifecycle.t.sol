// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {CertificateRegistry} from "../../contracts/CertificateRegistry.sol";
import {OneCertificateFixture} from "./RegistryFixture.sol";

/// @notice Revoking and re-attesting certificates.
contract LifecycleTest is OneCertificateFixture {
    function setUp() public override {
        super.setUp();
        mintOne(1_250);
    }

    // ---- revoke ----

    function test_IssuerRevokesWithReasonAndCertificateStaysReadable() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit CertificateRegistry.CertificateRevoked(tokenId, ISSUER, "detector false negative");
        vm.expectEmit(true, true, true, true, address(registry));
        emit IERC4906.MetadataUpdate(tokenId);
        vm.prank(ISSUER);
        registry.revoke(tokenId, "detector false negative");

        assertTrue(registry.isRevoked(tokenId), "isRevoked");
        CertificateRegistry.Certificate memory cert = registry.certificate(tokenId);
        assertEq(cert.revoked, true, "certificate says revoked");
        _assertUnchangedExceptRevoked(cert);
        assertEq(registry.ownerOf(tokenId), ALICE, "owner kept");
        assertEq(registry.tokenOfContent(minted.contentHash), tokenId, "still found by content");
        registry.tokenURI(tokenId); // still resolvable
    }

    function test_AdminRevokesAnotherIssuersCertificate() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit CertificateRegistry.CertificateRevoked(tokenId, ADMIN, "issuer key compromised");
        vm.prank(ADMIN);
        registry.revoke(tokenId, "issuer key compromised");
        assertTrue(registry.isRevoked(tokenId), "revoked by admin");
        _assertUnchangedExceptRevoked(registry.certificate(tokenId));
    }

    function test_OthersCannotRevoke() public {
        address[3] memory others = [OTHER_ISSUER, STRANGER, ALICE]; // ALICE holds the token
        for (uint256 i = 0; i < others.length; ++i) {
            expectRevertFrom(
                others[i],
                abi.encodeWithSelector(CertificateRegistry.NotCertificateIssuer.selector, others[i], tokenId)
            );
            registry.revoke(tokenId, "not mine");
        }
        assertTrue(!registry.isRevoked(tokenId), "still valid");
    }

    function test_IssuerThatLostItsRoleCannotRevokeButAdminCan() public {
        vm.prank(ADMIN);
        registry.revokeRole(issuerRole, ISSUER);
        expectRevertFrom(ISSUER, abi.encodeWithSelector(CertificateRegistry.NotCertificateIssuer.selector, ISSUER, tokenId));
        registry.revoke(tokenId, "too late");

        vm.prank(ADMIN);
        registry.revoke(tokenId, "issuer retired");
        assertTrue(registry.isRevoked(tokenId), "revoked by admin");
    }

    function test_RevokingNeedsAReason() public {
        expectRevertFrom(ISSUER, abi.encodeWithSelector(CertificateRegistry.EmptyReason.selector));
        registry.revoke(tokenId, "");
        expectRevertFrom(ADMIN, abi.encodeWithSelector(CertificateRegistry.EmptyReason.selector));
        registry.revoke(tokenId, "");
        assertTrue(!registry.isRevoked(tokenId), "still valid");
    }

    function test_RevokingTwiceReverts() public {
        vm.prank(ISSUER);
        registry.revoke(tokenId, "first");
        expectRevertFrom(ADMIN, abi.encodeWithSelector(CertificateRegistry.CertificateRevokedAlready.selector, tokenId));
        registry.revoke(tokenId, "second");
    }

    function test_UnknownCertificateCannotBeRevokedOrQueried() public {
        uint256 unknown = uint256(request(1).contentHash);
        bytes memory err = abi.encodeWithSelector(CertificateRegistry.UnknownCertificate.selector, unknown);
        expectRevertFrom(ADMIN, err);
        registry.revoke(unknown, "none");
        vm.expectRevert(err);
        registry.isRevoked(unknown);
        vm.expectRevert(err);
        registry.certificate(unknown);
    }

    function test_RevokedCertificateStillTravelsAndSaysRevoked() public {
        vm.prank(ISSUER);
        registry.revoke(tokenId, "manipulated after all");
        vm.prank(ALICE);
        registry.transferFrom(ALICE, BOB, tokenId);
        CertificateRegistry.Certificate memory cert = registry.certificate(tokenId);
        assertEq(cert.owner, BOB, "new owner");
        assertEq(cert.revoked, true, "revoked after transfer");
    }

    // ---- re-attest ----

    function test_IssuerReattestsWithNewVerdictAndMetadata() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit CertificateRegistry.CertificateReattested(
            tokenId, ISSUER, HELLO_SHA256, CertificateRegistry.Label.LikelyManipulated, 9_100
        );
        vm.expectEmit(true, true, true, true, address(registry));
        emit IERC4906.MetadataUpdate(tokenId);
        vm.prank(ISSUER);
        registry.reattest(tokenId, HELLO_SHA256, CertificateRegistry.Label.LikelyManipulated, 9_100);

        CertificateRegistry.Certificate memory cert = registry.certificate(tokenId);
        assertEq(cert.metadataDigest, HELLO_SHA256, "new digest");
        assertEq(uint256(cert.label), uint256(CertificateRegistry.Label.LikelyManipulated), "new label");
        assertEq(cert.scoreBps, 9_100, "new score");
        assertEq(cert.issuer, ISSUER, "issuer kept");
        assertEq(cert.issuedAt, T0, "issue time kept");
        assertEq(cert.revoked, false, "not revoked");
        assertEq(cert.owner, ALICE, "owner kept");
        assertEq(registry.tokenURI(tokenId), HELLO_URI, "URI follows the new digest");
    }

    /// Re-attesting rewrites label and score inside the packed word; nothing else may move.
    function testFuzz_ReattestChangesOnlyVerdictAndDigest(bytes32 digest, uint8 labelSeed, uint16 score) public {
        vm.assume(digest != 0);
        CertificateRegistry.Label label = CertificateRegistry.Label(labelSeed % 4);
        score = uint16(bound(score, 0, 10_000));
        vm.prank(ISSUER);
        registry.reattest(tokenId, digest, label, score);

        CertificateRegistry.Certificate memory cert = registry.certificate(tokenId);
        assertEq(cert.metadataDigest, digest, "digest");
        assertEq(uint256(cert.label), uint256(label), "label");
        assertEq(cert.scoreBps, score, "score");
        assertEq(cert.contentHash, minted.contentHash, "content kept");
        assertEq(cert.issuer, ISSUER, "issuer kept");
        assertEq(cert.issuedAt, T0, "issue time kept");
        assertEq(cert.revoked, false, "not revoked");
        assertEq(cert.owner, ALICE, "owner kept");

        // Revocation after any re-attestation must still set only its own flag.
        vm.prank(ADMIN);
        registry.revoke(tokenId, "fuzz");
        cert = registry.certificate(tokenId);
        assertEq(cert.revoked, true, "revoked");
        assertEq(uint256(cert.label), uint256(label), "label after revoke");
        assertEq(cert.scoreBps, score, "score after revoke");
        assertEq(cert.issuer, ISSUER, "issuer after revoke");
    }

    /// The verdict is the issuer's signed statement: an admin may revoke it, never rewrite it.
    function test_AdminCannotReattestAnotherIssuersCertificate() public {
        expectRevertFrom(ADMIN, abi.encodeWithSelector(CertificateRegistry.NotCertificateIssuer.selector, ADMIN, tokenId));
        registry.reattest(tokenId, HELLO_SHA256, CertificateRegistry.Label.LikelyManipulated, 9_900);
        CertificateRegistry.Certificate memory cert = registry.certificate(tokenId);
        assertEq(cert.metadataDigest, minted.metadataDigest, "digest unchanged");
        assertEq(uint256(cert.label), uint256(minted.label), "label unchanged");
    }

    function test_IssuerThatLostItsRoleCannotReattest() public {
        vm.prank(ADMIN);
        registry.revokeRole(issuerRole, ISSUER);
        expectRevertFrom(ISSUER, abi.encodeWithSelector(CertificateRegistry.NotCertificateIssuer.selector, ISSUER, tokenId));
        registry.reattest(tokenId, HELLO_SHA256, CertificateRegistry.Label.Uncertain, 5_000);
    }

    function test_OthersCannotReattest() public {
        address[4] memory others = [OTHER_ISSUER, STRANGER, ALICE, ADMIN];
        for (uint256 i = 0; i < others.length; ++i) {
            expectRevertFrom(
                others[i],
                abi.encodeWithSelector(CertificateRegistry.NotCertificateIssuer.selector, others[i], tokenId)
            );
            registry.reattest(tokenId, HELLO_SHA256, CertificateRegistry.Label.Uncertain, 5_000);
        }
        assertEq(registry.certificate(tokenId).metadataDigest, minted.metadataDigest, "digest unchanged");
    }

    function test_RevokedCertificateCannotBeReattested() public {
        vm.prank(ISSUER);
        registry.revoke(tokenId, "final");
        expectRevertFrom(ADMIN, abi.encodeWithSelector(CertificateRegistry.CertificateRevokedAlready.selector, tokenId));
        registry.reattest(tokenId, HELLO_SHA256, CertificateRegistry.Label.Uncertain, 5_000);
    }

    function test_ReattestRejectsBadInput() public {
        vm.startPrank(ISSUER);
        vm.expectRevert(CertificateRegistry.EmptyHash.selector);
        registry.reattest(tokenId, bytes32(0), CertificateRegistry.Label.Uncertain, 5_000);
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.InvalidScore.selector, 10_001));
        registry.reattest(tokenId, HELLO_SHA256, CertificateRegistry.Label.Uncertain, 10_001);
        uint256 unknown = uint256(request(1).contentHash);
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.UnknownCertificate.selector, unknown));
        registry.reattest(unknown, HELLO_SHA256, CertificateRegistry.Label.Uncertain, 5_000);
        vm.stopPrank();
    }

    function _assertUnchangedExceptRevoked(CertificateRegistry.Certificate memory cert) private view {
        assertRecord(cert, minted, ISSUER, T0, ALICE);
    }
}
