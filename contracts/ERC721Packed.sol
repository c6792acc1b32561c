// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/**
 * @title ERC721Packed
 * @notice An ERC-721 core that keeps 96 bits of per-token data in the same
 * storage slot as the owner.
 * @dev OpenZeppelin's ERC721 keeps owners in a private mapping of addresses, so
 * a token's own record would need a second slot. Packing the record beside the
 * owner saves one 22,100-gas storage write per mint, which is what makes a
 * certificate cost less than a plain ERC721URIStorage mint. The behaviour,
 * events and errors follow OpenZeppelin's ERC721 (IERC6093 errors), and as there
 * every change of owner (mint, transfer, burn) goes through `_update`, the one
 * place balances, approvals and the owner slot change.
 */
abstract contract ERC721Packed is ERC165, IERC721, IERC721Metadata, IERC721Errors {
    uint256 private constant _OWNER_MASK = (1 << 160) - 1;

    string private _name;
    string private _symbol;

    // tokenId => owner (low 160 bits) | extra data (high 96 bits)
    mapping(uint256 tokenId => uint256) private _packed;
    mapping(address owner => uint256) private _balances;
    mapping(uint256 tokenId => address) private _tokenApprovals;
    mapping(address owner => mapping(address operator => bool)) private _operatorApprovals;

    constructor(string memory name_, string memory symbol_) {
        _name = name_;
        _symbol = symbol_;
    }

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return
            interfaceId == type(IERC721).interfaceId ||
            interfaceId == type(IERC721Metadata).interfaceId ||
            super.supportsInterface(interfaceId);
    }

    /// @inheritdoc IERC721
    function balanceOf(address owner) public view virtual returns (uint256) {
        if (owner == address(0)) revert ERC721InvalidOwner(address(0));
        return _balances[owner];
    }

    /// @inheritdoc IERC721
    function ownerOf(uint256 tokenId) public view virtual returns (address) {
        return _requireOwned(tokenId);
    }

    /// @inheritdoc IERC721Metadata
    function name() public view virtual returns (string memory) {
        return _name;
    }

    /// @inheritdoc IERC721Metadata
    function symbol() public view virtual returns (string memory) {
        return _symbol;
    }

    /// @inheritdoc IERC721
    function approve(address to, uint256 tokenId) public virtual {
        address owner = _requireOwned(tokenId);
        if (msg.sender != owner && !isApprovedForAll(owner, msg.sender)) revert ERC721InvalidApprover(msg.sender);
        _tokenApprovals[tokenId] = to;
        emit Approval(owner, to, tokenId);
    }

    /// @inheritdoc IERC721
    function getApproved(uint256 tokenId) public view virtual returns (address) {
        _requireOwned(tokenId);
        return _tokenApprovals[tokenId];
    }

    /// @inheritdoc IERC721
    function setApprovalForAll(address operator, bool approved) public virtual {
        if (operator == address(0)) revert ERC721InvalidOperator(operator);
        _operatorApprovals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    /// @inheritdoc IERC721
    function isApprovedForAll(address owner, address operator) public view virtual returns (bool) {
        return _operatorApprovals[owner][operator];
    }

    /// @inheritdoc IERC721
    function transferFrom(address from, address to, uint256 tokenId) public virtual {
        if (to == address(0)) revert ERC721InvalidReceiver(address(0));
        address previousOwner = _update(to, tokenId, 0, msg.sender);
        if (previousOwner != from) revert ERC721IncorrectOwner(from, tokenId, previousOwner);
    }

    /// @inheritdoc IERC721
    function safeTransferFrom(address from, address to, uint256 tokenId) public virtual {
        safeTransferFrom(from, to, tokenId, "");
    }

    /// @inheritdoc IERC721
    function safeTransferFrom(address from, address to, uint256 tokenId, bytes memory data) public virtual {
        transferFrom(from, to, tokenId);
        ERC721Utils.checkOnERC721Received(msg.sender, from, to, tokenId, data);
    }

    /// @dev Reverts with ERC721NonexistentToken unless the token exists; returns its owner.
    function _requireOwned(uint256 tokenId) internal view returns (address owner) {
        owner = address(uint160(_packed[tokenId]));
        if (owner == address(0)) revert ERC721NonexistentToken(tokenId);
    }

    /// @dev Whether the token exists (a token is burned only to be minted again at once, by a re-issue).
    function _exists(uint256 tokenId) internal view returns (bool) {
        return _packed[tokenId] & _OWNER_MASK != 0;
    }

    /// @dev The 96 bits of per-token data packed beside the owner.
    function _extraData(uint256 tokenId) internal view returns (uint96) {
        return uint96(_packed[tokenId] >> 160);
    }

    /// @dev Replaces a token's per-token data, keeping its owner.
    function _setExtraData(uint256 tokenId, uint96 extra) internal {
        _packed[tokenId] = (_packed[tokenId] & _OWNER_MASK) | (uint256(extra) << 160);
    }

    /// @dev The token's whole slot: owner (low 160 bits) and extra data (high 96 bits); 0 if it does not exist.
    function _packedOf(uint256 tokenId) internal view returns (uint256) {
        return _packed[tokenId];
    }

    /// @dev Mints `tokenId` to `to` with its 96 bits of per-token data. Reverts if the token exists.
    function _mint(address to, uint256 tokenId, uint96 extra) internal {
        if (to == address(0)) revert ERC721InvalidReceiver(address(0));
        address previousOwner = _update(to, tokenId, extra, address(0));
        if (previousOwner != address(0)) revert ERC721InvalidSender(address(0));
    }

    /// @dev Burns an existing token: its slot and approval are cleared, its owner's balance goes down by one.
    function _burn(uint256 tokenId) internal {
        address previousOwner = _update(address(0), tokenId, 0, address(0));
        if (previousOwner == address(0)) revert ERC721NonexistentToken(tokenId);
    }

    /**
     * @dev The one place a token changes hands: mint (no owner before), transfer, or burn (`to` is zero).
     * Owner slot, balances, the single-token approval and the Transfer event change here and nowhere
     * else, so the balances always count what the slots say. `auth`, when not zero, must be the owner
     * or approved for the token (transfers); mints and burns are authorised by their callers and pass
     * zero. `extra` is OR-ed into the token's 96 bits of data: a mint sets them (its slot was empty),
     * a transfer passes 0 and keeps them, a burn clears the whole slot.
     * Returns the owner before the change (zero for a mint); callers check it is the one they expected.
     */
    function _update(address to, uint256 tokenId, uint96 extra, address auth) internal returns (address from) {
        uint256 packed = _packed[tokenId];
        from = address(uint160(packed));
        if (auth != address(0)) _checkAuthorized(from, auth, tokenId);
        if (from != address(0)) {
            delete _tokenApprovals[tokenId];
            unchecked {
                _balances[from] -= 1; // an owned token was counted in its owner's balance
            }
        }
        if (to != address(0)) {
            unchecked {
                _balances[to] += 1; // fewer tokens than 2**256 can exist
            }
            _packed[tokenId] = (packed & ~_OWNER_MASK) | uint256(uint160(to)) | (uint256(extra) << 160);
        } else {
            delete _packed[tokenId];
        }
        emit Transfer(from, to, tokenId);
    }

    /// @dev Reverts unless `spender` may move `owner`'s token: the owner, an operator, or the approved account.
    function _checkAuthorized(address owner, address spender, uint256 tokenId) private view {
        if (owner == address(0)) revert ERC721NonexistentToken(tokenId);
        if (spender != owner && !isApprovedForAll(owner, spender) && _tokenApprovals[tokenId] != spender) {
            revert ERC721InsufficientApproval(spender, tokenId);
        }
    }
}
