// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {CertificateRegistry} from "../../contracts/CertificateRegistry.sol";
import {Vm} from "./Vm.sol";
import {RegistryFixture} from "./RegistryFixture.sol";

/**
 * @notice Events carry everything an indexer needs: replaying only the logs of
 * a busy history must rebuild every certificate exactly as the views report it.
 */
contract IndexerTest is RegistryFixture {
    struct Rebuilt {
        bool seen;
        bytes32 metadataDigest;
        address issuer;
        uint40 issuedAt;
        CertificateRegistry.Label label;
        uint16 scoreBps;
        bool revoked;
        address owner;
        uint64 phash;
        bytes32 pdq;
        string revokeReason;
        uint256 metadataUpdates;
        uint256 reissues;
        address approvedReissuer;
    }

    mapping(uint256 tokenId => Rebuilt) private rebuilt;
    uint256[] private tokenIds;

    function test_ReplayingEventsRebuildsTheRegistry() public {
        CertificateRegistry.MintRequest[] memory reqs = requests(500, 6);

        vm.recordLogs();
        uint256 single = mintAs(ISSUER, ALICE, request(1));
        vm.warp(T0 + 100);
        vm.prank(OTHER_ISSUER);
        uint256[] memory batch = registry.mintBatch(BOB, reqs);
        vm.warp(T0 + 200);
        vm.prank(BOB);
        registry.transferFrom(BOB, ALICE, batch[2]);
        vm.prank(OTHER_ISSUER);
        registry.reattest(batch[0], HELLO_SHA256, CertificateRegistry.Label.LikelyManipulated, 8_800);
        vm.prank(OTHER_ISSUER);
        registry.revoke(batch[1], "source image found elsewhere");
        vm.prank(ADMIN);
        registry.revoke(single, "issuer error");
        vm.prank(ADMIN);
        registry.approveReissue(single, OTHER_ISSUER, "the rightful issuer certifies it");
        CertificateRegistry.MintRequest memory again = request(900);
        again.contentHash = bytes32(single);
        vm.warp(T0 + 300);
        vm.prank(OTHER_ISSUER);
        registry.reissue(BOB, again);
        vm.prank(BOB);
        registry.transferFrom(BOB, STRANGER, single);
        _replay(vm.getRecordedLogs());

        assertEq(tokenIds.length, 7, "certificates indexed");
        for (uint256 i = 0; i < tokenIds.length; ++i) _assertMatchesViews(tokenIds[i]);

        // Values that exist only in events.
        assertEq(rebuilt[batch[3]].phash, reqs[3].phash, "phash from the event");
        assertEq(rebuilt[batch[3]].pdq, reqs[3].pdq, "pdq from the event");
        assertEq(rebuilt[batch[1]].revokeReason, "source image found elsewhere", "revoke reason");
        assertEq(rebuilt[batch[0]].metadataUpdates, 1, "MetadataUpdate on re-attest");
        assertEq(rebuilt[single].metadataUpdates, 1, "MetadataUpdate on revoke");
        assertEq(rebuilt[batch[4]].metadataUpdates, 0, "no MetadataUpdate on plain mint");
        assertEq(rebuilt[single].reissues, 1, "re-issued once");
        assertEq(rebuilt[single].approvedReissuer, OTHER_ISSUER, "approval named the issuer");
        assertEq(rebuilt[single].phash, again.phash, "phash of the re-issue");
    }

    function _replay(Vm.Log[] memory logs) private {
        for (uint256 i = 0; i < logs.length; ++i) {
            Vm.Log memory log = logs[i];
            assertEq(log.emitter, address(registry), "only the registry emits");
            bytes32 topic = log.topics[0];
            uint256 tokenId = log.topics.length > 1 ? uint256(log.topics[1]) : 0;
            Rebuilt storage rec = rebuilt[tokenId];
            if (topic == CertificateRegistry.CertificateIssued.selector) {
                assertTrue(!rec.seen, "issued twice");
                rec.seen = true;
                tokenIds.push(tokenId);
                rec.issuer = address(uint160(uint256(log.topics[2])));
                rec.owner = address(uint160(uint256(log.topics[3])));
                _decodeIssued(rec, log.data);
            } else if (topic == IERC721.Transfer.selector) {
                address from = address(uint160(uint256(log.topics[1])));
                tokenId = uint256(log.topics[3]);
                if (from != address(0)) rebuilt[tokenId].owner = address(uint160(uint256(log.topics[2])));
            } else if (topic == CertificateRegistry.CertificateReattested.selector) {
                (rec.metadataDigest, rec.label, rec.scoreBps) = abi.decode(
                    log.data,
                    (bytes32, CertificateRegistry.Label, uint16)
                );
            } else if (topic == CertificateRegistry.CertificateRevoked.selector) {
                rec.revoked = true;
                rec.revokeReason = abi.decode(log.data, (string));
            } else if (topic == CertificateRegistry.ReissueApproved.selector) {
                rec.approvedReissuer = address(uint160(uint256(log.topics[3])));
            } else if (topic == CertificateRegistry.CertificateReissued.selector) {
                assertTrue(rec.seen && rec.revoked, "re-issued without a revoked certificate");
                rec.reissues += 1;
                rec.revoked = false;
                rec.issuer = address(uint160(uint256(log.topics[2])));
                rec.owner = address(uint160(uint256(log.topics[3])));
                _decodeIssued(rec, log.data);
            } else if (topic == IERC4906.MetadataUpdate.selector) {
                rebuilt[abi.decode(log.data, (uint256))].metadataUpdates += 1;
            } else {
                revert("unexpected event");
            }
        }
    }

    function _decodeIssued(Rebuilt storage rec, bytes memory data) private {
        (rec.metadataDigest, rec.label, rec.scoreBps) = abi.decode(data, (bytes32, CertificateRegistry.Label, uint16));
        (, , , rec.phash, rec.pdq, rec.issuedAt) = abi.decode(
            data,
            (bytes32, uint8, uint16, uint64, bytes32, uint40)
        );
    }

    function _assertMatchesViews(uint256 tokenId) private view {
        Rebuilt storage rec = rebuilt[tokenId];
        CertificateRegistry.Certificate memory cert = registry.certificate(tokenId);
        assertEq(cert.contentHash, bytes32(tokenId), "contentHash");
        assertEq(cert.metadataDigest, rec.metadataDigest, "metadataDigest");
        assertEq(cert.issuer, rec.issuer, "issuer");
        assertEq(cert.issuedAt, rec.issuedAt, "issuedAt");
        assertEq(uint256(cert.label), uint256(rec.label), "label");
        assertEq(cert.scoreBps, rec.scoreBps, "scoreBps");
        assertEq(cert.revoked, rec.revoked, "revoked");
        assertEq(cert.owner, rec.owner, "owner");
    }
}
