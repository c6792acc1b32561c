// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {CertificateRegistry} from "../../contracts/CertificateRegistry.sol";
import {Vm} from "./Vm.sol";
import {RegistryFixture} from "./RegistryFixture.sol";

/// @notice Minting one and many certificates, and one certificate per content.
contract MintingTest is RegistryFixture {
    function test_MintRecordsEveryField() public {
        CertificateRegistry.MintRequest memory req = request(7);
        uint256 tokenId = mintAs(ISSUER, ALICE, req);

        assertEq(tokenId, uint256(req.contentHash), "token id is the content hash");
        _assertCertificate(tokenId, req, ISSUER, T0, ALICE);
        assertEq(registry.ownerOf(tokenId), ALICE, "ownerOf");
        assertEq(registry.balanceOf(ALICE), 1, "balance");
        assertEq(registry.tokenOfContent(req.contentHash), tokenId, "tokenOfContent");
        assertTrue(!registry.isRevoked(tokenId), "not revoked");
    }

    /// Every packed field must come back as minted, whatever its value.
    function testFuzz_MintRoundTripsEveryField(
        bytes32[3] memory hashes, // content, metadata, pdq
        uint8 labelSeed,
        uint16 score,
        uint64 phash,
        uint40 issuedAt,
        address to,
        bool byOtherIssuer
    ) public {
        vm.assume(hashes[0] != 0 && hashes[1] != 0 && to != address(0));
        CertificateRegistry.MintRequest memory req = CertificateRegistry.MintRequest({
            contentHash: hashes[0],
            metadataDigest: hashes[1],
            label: CertificateRegistry.Label(labelSeed % 4),
            scoreBps: uint16(bound(score, 0, registry.MAX_SCORE_BPS())),
            phash: phash,
            pdq: hashes[2]
        });
        address issuer = byOtherIssuer ? OTHER_ISSUER : ISSUER;
        vm.warp(issuedAt);

        uint256 tokenId = uint256(req.contentHash);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IERC721.Transfer(address(0), to, tokenId);
        vm.expectEmit(true, true, true, true, address(registry));
        emit CertificateRegistry.CertificateIssued(
            tokenId, issuer, to, req.metadataDigest, req.label, req.scoreBps, req.phash, req.pdq, issuedAt
        );
        mintAs(issuer, to, req);

        _assertCertificate(tokenId, req, issuer, issuedAt, to);
        assertEq(registry.balanceOf(to), 1, "balance");
    }

    function test_TokenOfContentIsZeroForUnknownOrZeroHash() public {
        mintAs(ISSUER, ALICE, request(1));
        assertEq(registry.tokenOfContent(request(2).contentHash), 0, "unknown content");
        assertEq(registry.tokenOfContent(bytes32(0)), 0, "zero hash");
    }

    function test_SameContentAgainRevertsNamingExistingToken() public {
        CertificateRegistry.MintRequest memory req = request(1);
        uint256 tokenId = mintAs(ISSUER, ALICE, req);

        // Different metadata, verdict, issuer and holder: still the same content.
        CertificateRegistry.MintRequest memory again = request(2);
        again.contentHash = req.contentHash;
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.CertificateExists.selector, tokenId));
        mintAs(OTHER_ISSUER, BOB, again);

        _assertCertificate(tokenId, req, ISSUER, T0, ALICE);
        assertEq(registry.balanceOf(BOB), 0, "nothing minted to the second holder");
    }

    function test_RevokedContentStillCannotBeMintedAgain() public {
        CertificateRegistry.MintRequest memory req = request(1);
        uint256 tokenId = mintAs(ISSUER, ALICE, req);
        vm.prank(ISSUER);
        registry.revoke(tokenId, "wrong verdict");
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.CertificateExists.selector, tokenId));
        mintAs(ISSUER, ALICE, req);
    }

    function test_ZeroHashesAreRejected() public {
        CertificateRegistry.MintRequest memory req = request(1);
        req.contentHash = 0;
        vm.expectRevert(CertificateRegistry.EmptyHash.selector);
        mintAs(ISSUER, ALICE, req);

        req = request(1);
        req.metadataDigest = 0;
        vm.expectRevert(CertificateRegistry.EmptyHash.selector);
        mintAs(ISSUER, ALICE, req);
    }

    function testFuzz_ScoreAboveMaximumIsRejected(uint16 score) public {
        score = uint16(bound(score, uint256(registry.MAX_SCORE_BPS()) + 1, type(uint16).max));
        CertificateRegistry.MintRequest memory req = request(1);
        req.scoreBps = score;
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.InvalidScore.selector, score));
        mintAs(ISSUER, ALICE, req);
    }

    function test_ScoreAtMaximumIsAccepted() public {
        CertificateRegistry.MintRequest memory req = request(1);
        req.scoreBps = 10_000;
        uint256 tokenId = mintAs(ISSUER, ALICE, req);
        assertEq(registry.certificate(tokenId).scoreBps, 10_000, "score");
    }

    function test_LabelOutsideTheEnumIsRejected() public {
        CertificateRegistry.MintRequest memory req = request(1);
        bytes memory callData = abi.encodeWithSelector(
            registry.mint.selector,
            ALICE,
            req.contentHash,
            req.metadataDigest,
            uint8(4), // one past LikelyManipulated
            req.scoreBps,
            req.phash,
            req.pdq
        );
        vm.prank(ISSUER);
        (bool ok, ) = address(registry).call(callData);
        assertTrue(!ok, "label 4 accepted");
        assertEq(registry.tokenOfContent(req.contentHash), 0, "nothing minted");
    }

    function test_MintToZeroAddressReverts() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, address(0)));
        mintAs(ISSUER, address(0), request(1));
        expectRevertFrom(ISSUER, abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, address(0)));
        registry.mintBatch(address(0), requests(1, 3));
    }

    // ---- batch ----

    function test_BatchOfTwentyMintsEachInOrder() public {
        CertificateRegistry.MintRequest[] memory reqs = requests(100, 20);
        vm.warp(T0 + 60);
        vm.recordLogs();
        vm.prank(ISSUER);
        uint256[] memory ids = registry.mintBatch(BOB, reqs);
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(ids.length, 20, "ids returned");
        assertEq(registry.balanceOf(BOB), 20, "balance");
        for (uint256 i = 0; i < reqs.length; ++i) {
            assertEq(ids[i], uint256(reqs[i].contentHash), "id order");
            _assertCertificate(ids[i], reqs[i], ISSUER, T0 + 60, BOB);
        }
        assertEq(_count(logs, CertificateRegistry.CertificateIssued.selector), 20, "CertificateIssued events");
        assertEq(_count(logs, IERC721.Transfer.selector), 20, "Transfer events");
    }

    function testFuzz_BatchOfAnySizeAddsToBalance(uint8 size) public {
        uint256 count = bound(size, 1, 40);
        mintAs(ISSUER, ALICE, request(0));
        vm.prank(OTHER_ISSUER);
        uint256[] memory ids = registry.mintBatch(ALICE, requests(1, count));
        assertEq(registry.balanceOf(ALICE), count + 1, "balance");
        assertEq(registry.ownerOf(ids[count - 1]), ALICE, "last owner");
        assertEq(registry.certificate(ids[0]).issuer, OTHER_ISSUER, "batch issuer");
    }

    function test_EmptyBatchReverts() public {
        expectRevertFrom(ISSUER, abi.encodeWithSelector(CertificateRegistry.EmptyBatch.selector));
        registry.mintBatch(ALICE, new CertificateRegistry.MintRequest[](0));
    }

    function test_BatchByNonIssuerReverts() public {
        expectRevertFrom(
            STRANGER,
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, STRANGER, issuerRole)
        );
        registry.mintBatch(ALICE, requests(1, 2));
    }

    function test_DuplicateInsideBatchRevertsAndMintsNothing() public {
        CertificateRegistry.MintRequest[] memory reqs = requests(1, 5);
        reqs[3].contentHash = reqs[1].contentHash;
        _expectBatchFailsAtomically(reqs, abi.encodeWithSelector(
            CertificateRegistry.CertificateExists.selector, uint256(reqs[1].contentHash)
        ));
    }

    function test_BatchRepeatingAMintedContentReverts() public {
        uint256 existing = mintAs(OTHER_ISSUER, ALICE, request(3));
        _expectBatchFailsAtomically(
            requests(1, 5),
            abi.encodeWithSelector(CertificateRegistry.CertificateExists.selector, existing)
        );
        assertEq(registry.balanceOf(ALICE), 1, "earlier certificate kept");
    }

    function test_InvalidRequestInsideBatchRevertsAndMintsNothing() public {
        CertificateRegistry.MintRequest[] memory reqs = requests(1, 4);
        reqs[2].scoreBps = 10_001;
        _expectBatchFailsAtomically(reqs, abi.encodeWithSelector(CertificateRegistry.InvalidScore.selector, 10_001));
    }

    function _expectBatchFailsAtomically(CertificateRegistry.MintRequest[] memory reqs, bytes memory err) private {
        expectRevertFrom(ISSUER, err);
        registry.mintBatch(BOB, reqs);
        assertEq(registry.balanceOf(BOB), 0, "balance after failed batch");
        assertEq(registry.tokenOfContent(reqs[0].contentHash), 0, "first request not minted");
    }

    function _assertCertificate(
        uint256 tokenId,
        CertificateRegistry.MintRequest memory req,
        address issuer,
        uint40 issuedAt,
        address owner
    ) private view {
        CertificateRegistry.Certificate memory cert = registry.certificate(tokenId);
        assertRecord(cert, req, issuer, issuedAt, owner);
        assertEq(cert.revoked, false, "revoked");
    }

    function _count(Vm.Log[] memory logs, bytes32 topic0) private pure returns (uint256 n) {
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics.length > 0 && logs[i].topics[0] == topic0) ++n;
        }
    }
}
