// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {CertificateRegistry} from "../../contracts/CertificateRegistry.sol";
import {TestBase} from "./TestBase.sol";

/**
 * @title RegistryFixture
 * @notice A fresh registry per test with an admin, two issuers and a few
 * holders, plus builders for mint requests.
 */
abstract contract RegistryFixture is TestBase {
    address internal constant ADMIN = address(0xAD);
    address internal constant ISSUER = address(0x1551);
    address internal constant OTHER_ISSUER = address(0x1552);
    address internal constant STRANGER = address(0x5757);
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);

    // The sha256 of "hello world", whose CIDv1 raw is a public Kubo vector.
    bytes32 internal constant HELLO_SHA256 = 0xb94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9;
    string internal constant HELLO_URI = "ipfs://bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";

    uint40 internal constant T0 = 1_700_000_000;

    CertificateRegistry internal registry;
    bytes32 internal issuerRole;

    function setUp() public virtual {
        vm.warp(T0);
        registry = new CertificateRegistry(ADMIN);
        issuerRole = registry.ISSUER_ROLE();
        vm.startPrank(ADMIN);
        registry.grantRole(issuerRole, ISSUER);
        registry.grantRole(issuerRole, OTHER_ISSUER);
        vm.stopPrank();
    }

    /// @dev A valid request whose hashes are derived from `seed`.
    function request(uint256 seed) internal pure returns (CertificateRegistry.MintRequest memory) {
        return
            CertificateRegistry.MintRequest({
                contentHash: keccak256(abi.encode("content", seed)),
                metadataDigest: keccak256(abi.encode("metadata", seed)),
                label: CertificateRegistry.Label(seed % 4),
                scoreBps: uint16(seed % 10_001),
                phash: uint64(uint256(keccak256(abi.encode("phash", seed)))),
                pdq: keccak256(abi.encode("pdq", seed))
            });
    }

    /// @dev `request(seed)` with the given verdict.
    function labelled(
        uint256 seed,
        CertificateRegistry.Label label,
        uint16 scoreBps
    ) internal pure returns (CertificateRegistry.MintRequest memory req) {
        req = request(seed);
        req.label = label;
        req.scoreBps = scoreBps;
    }

    /// @dev The certificate holds what `req` asked for, from `issuer` at `issuedAt`, held by `owner`.
    function assertRecord(
        CertificateRegistry.Certificate memory cert,
        CertificateRegistry.MintRequest memory req,
        address issuer,
        uint40 issuedAt,
        address owner
    ) internal pure {
        assertEq(cert.contentHash, req.contentHash, "contentHash");
        assertEq(cert.metadataDigest, req.metadataDigest, "metadataDigest");
        assertEq(cert.issuer, issuer, "issuer");
        assertEq(cert.issuedAt, issuedAt, "issuedAt");
        assertEq(uint256(cert.label), uint256(req.label), "label");
        assertEq(cert.scoreBps, req.scoreBps, "scoreBps");
        assertEq(cert.owner, owner, "owner");
    }

    /// @dev The next call, made by `caller`, must revert with `err`.
    function expectRevertFrom(address caller, bytes memory err) internal {
        vm.expectRevert(err);
        vm.prank(caller);
    }

    function mintAs(
        address issuer,
        address to,
        CertificateRegistry.MintRequest memory req
    ) internal returns (uint256 tokenId) {
        vm.prank(issuer);
        tokenId = registry.mint(to, req);
    }

    function requests(uint256 firstSeed, uint256 count) internal pure returns (CertificateRegistry.MintRequest[] memory reqs) {
        reqs = new CertificateRegistry.MintRequest[](count);
        for (uint256 i = 0; i < count; ++i) reqs[i] = request(firstSeed + i);
    }
}

/// @notice A registry holding one certificate, issued by ISSUER to ALICE a day ago.
abstract contract OneCertificateFixture is RegistryFixture {
    CertificateRegistry.MintRequest internal minted;
    uint256 internal tokenId;

    function mintOne(uint16 scoreBps) internal {
        minted = labelled(42, CertificateRegistry.Label.LikelyAuthentic, scoreBps);
        tokenId = mintAs(ISSUER, ALICE, minted);
        vm.warp(T0 + 1 days);
    }
}
