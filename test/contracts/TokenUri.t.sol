// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {CertificateRegistry} from "../../contracts/CertificateRegistry.sol";
import {RegistryFixture} from "./RegistryFixture.sol";

/// @notice tokenURI is `ipfs://` + the CIDv1 (raw, sha2-256, base32) of the metadata digest.
contract TokenUriTest is RegistryFixture {
    function test_HelloWorldDigestGivesTheKuboCid() public {
        uint256 tokenId = _mintWithDigest(HELLO_SHA256);
        assertEq(registry.tokenURI(tokenId), HELLO_URI, "tokenURI");
        assertEq(bytes(registry.tokenURI(tokenId)).length, 66, "URI length");
    }

    function test_EmptyFileDigestGivesTheWellKnownEmptyCid() public {
        // sha256("") and the CID `ipfs add --cid-version=1` gives an empty file.
        uint256 tokenId = _mintWithDigest(0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855);
        assertEq(
            registry.tokenURI(tokenId),
            "ipfs://bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
            "tokenURI"
        );
    }

    /// Against an independent RFC 4648 base32 encoder (a bit accumulator, not
    /// the contract's two-byte window) over the CID bytes.
    function testFuzz_UriMatchesReferenceEncoding(bytes32 digest) public {
        vm.assume(digest != 0);
        uint256 tokenId = _mintWithDigest(digest);
        string memory expected = string.concat("ipfs://b", _base32(abi.encodePacked(hex"01551220", digest)));
        assertEq(registry.tokenURI(tokenId), expected, "tokenURI");
    }

    function test_UriOfUnknownTokenReverts() public {
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.UnknownCertificate.selector, 123));
        registry.tokenURI(123);
    }

    function test_NameAndSymbol() public view {
        assertEq(registry.name(), "Provenance Certificate", "name");
        assertEq(registry.symbol(), "PROV", "symbol");
    }

    function _mintWithDigest(bytes32 digest) private returns (uint256) {
        CertificateRegistry.MintRequest memory req = request(uint256(digest));
        req.metadataDigest = digest;
        return mintAs(ISSUER, ALICE, req);
    }

    function _base32(bytes memory data) private pure returns (string memory) {
        bytes memory alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        bytes memory out = new bytes((data.length * 8 + 4) / 5);
        uint256 acc;
        uint256 bits;
        uint256 n;
        for (uint256 i = 0; i < data.length; ++i) {
            acc = (acc << 8) | uint8(data[i]);
            bits += 8;
            while (bits >= 5) {
                bits -= 5;
                out[n++] = alphabet[(acc >> bits) & 31];
            }
            acc &= (1 << bits) - 1;
        }
        if (bits > 0) out[n++] = alphabet[(acc << (5 - bits)) & 31];
        return string(out);
    }
}
