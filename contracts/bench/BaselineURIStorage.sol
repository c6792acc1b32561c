// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/**
 * @title BaselineURIStorage
 * @notice Gas benchmark baseline only, never deployed for real: the plain
 * OpenZeppelin way to mint an NFT that points at IPFS metadata, storing the
 * whole URI string per token.
 */
contract BaselineURIStorage is ERC721URIStorage, Ownable {
    constructor(address owner) ERC721("Baseline", "BASE") Ownable(owner) {}

    function mint(address to, uint256 id, string calldata uri) external onlyOwner {
        _mint(to, id);
        _setTokenURI(id, uri);
    }
}
