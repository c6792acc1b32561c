// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/**
 * @title CidV1
 * @notice Builds the text form of an IPFS CIDv1 for a sha2-256 digest of raw
 * bytes: multibase base32 (lower case, no padding, prefix "b"), CID version 1,
 * multicodec raw (0x55), multihash sha2-256 (0x12, length 0x20).
 * @dev Kubo gives exactly this CID to a file under 256 KiB added with
 * `--cid-version=1` (raw leaves), so a token's URI names the very bytes whose
 * digest the chain stores.
 */
library CidV1 {
    bytes private constant _ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    /// @notice The CID string ("bafkrei...", 59 characters) of a raw block with this sha2-256 digest.
    function rawSha256(bytes32 digest) internal pure returns (string memory) {
        bytes memory cid = abi.encodePacked(hex"01551220", digest, hex"00");
        // 36 bytes are 288 bits: 58 base32 characters, the last holding 3 bits.
        bytes memory out = new bytes(59);
        out[0] = "b";
        for (uint256 i = 0; i < 58; ++i) {
            uint256 bit = i * 5;
            uint256 pair = (uint256(uint8(cid[bit / 8])) << 8) | uint256(uint8(cid[bit / 8 + 1]));
            out[i + 1] = _ALPHABET[(pair >> (11 - (bit % 8))) & 31];
        }
        return string(out);
    }
}
