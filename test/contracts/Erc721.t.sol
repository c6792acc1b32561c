// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {RegistryFixture} from "./RegistryFixture.sol";
import {CertificateRegistry} from "../../contracts/CertificateRegistry.sol";

/// @notice Accepts tokens and remembers the last call.
contract Receiver is IERC721Receiver {
    address public operator;
    address public from;
    uint256 public tokenId;
    bytes public data;

    function onERC721Received(address operator_, address from_, uint256 tokenId_, bytes calldata data_)
        external
        returns (bytes4)
    {
        (operator, from, tokenId, data) = (operator_, from_, tokenId_, data_);
        return IERC721Receiver.onERC721Received.selector;
    }
}

/// @notice Certificates travel with their collectible; the ERC-721 surface and interface ids.
contract Erc721Test is RegistryFixture {
    uint256 internal tokenId;

    function setUp() public override {
        super.setUp();
        tokenId = mintAs(ISSUER, ALICE, request(9));
    }

    function test_HolderTransfersAndCertificateFollows() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit IERC721.Transfer(ALICE, BOB, tokenId);
        vm.prank(ALICE);
        registry.transferFrom(ALICE, BOB, tokenId);
        assertEq(registry.ownerOf(tokenId), BOB, "ownerOf");
        assertEq(registry.certificate(tokenId).owner, BOB, "certificate owner");
        assertEq(registry.balanceOf(ALICE), 0, "sender balance");
        assertEq(registry.balanceOf(BOB), 1, "receiver balance");
        assertEq(registry.certificate(tokenId).issuer, ISSUER, "issuer unchanged");
    }

    function test_ApprovedAccountTransfersOnceAndApprovalClears() public {
        vm.prank(ALICE);
        registry.approve(STRANGER, tokenId);
        assertEq(registry.getApproved(tokenId), STRANGER, "approved");
        vm.prank(STRANGER);
        registry.transferFrom(ALICE, BOB, tokenId);
        assertEq(registry.ownerOf(tokenId), BOB, "moved");
        assertEq(registry.getApproved(tokenId), address(0), "approval cleared");
    }

    function test_OperatorTransfers() public {
        vm.prank(ALICE);
        registry.setApprovalForAll(STRANGER, true);
        assertTrue(registry.isApprovedForAll(ALICE, STRANGER), "operator set");
        vm.prank(STRANGER);
        registry.transferFrom(ALICE, BOB, tokenId);
        assertEq(registry.ownerOf(tokenId), BOB, "moved by operator");
    }

    function test_UnauthorisedTransfersRevert() public {
        // Neither the issuer nor the admin may move a holder's certificate.
        address[3] memory callers = [STRANGER, ISSUER, ADMIN];
        for (uint256 i = 0; i < callers.length; ++i) {
            expectRevertFrom(
                callers[i],
                abi.encodeWithSelector(IERC721Errors.ERC721InsufficientApproval.selector, callers[i], tokenId)
            );
            registry.transferFrom(ALICE, callers[i], tokenId);
        }
        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721IncorrectOwner.selector, BOB, tokenId, ALICE));
        registry.transferFrom(BOB, ALICE, tokenId);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, address(0)));
        registry.transferFrom(ALICE, address(0), tokenId);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 77));
        registry.transferFrom(ALICE, BOB, 77);
        vm.stopPrank();
        assertEq(registry.ownerOf(tokenId), ALICE, "still with holder");
    }

    function test_SafeTransferCallsReceiverWithData() public {
        Receiver receiver = new Receiver();
        vm.prank(ALICE);
        registry.safeTransferFrom(ALICE, address(receiver), tokenId, hex"c0ffee");
        assertEq(registry.ownerOf(tokenId), address(receiver), "owner");
        assertEq(receiver.operator(), ALICE, "operator");
        assertEq(receiver.from(), ALICE, "from");
        assertEq(receiver.tokenId(), tokenId, "tokenId");
        assertEq(keccak256(receiver.data()), keccak256(hex"c0ffee"), "data");
    }

    function test_SafeTransferToNonReceiverContractReverts() public {
        address nonReceiver = address(registry); // has code, no onERC721Received
        expectRevertFrom(ALICE, abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, nonReceiver));
        registry.safeTransferFrom(ALICE, nonReceiver, tokenId);
    }

    function test_ApprovalErrors() public {
        expectRevertFrom(STRANGER, abi.encodeWithSelector(IERC721Errors.ERC721InvalidApprover.selector, STRANGER));
        registry.approve(STRANGER, tokenId);
        expectRevertFrom(ALICE, abi.encodeWithSelector(IERC721Errors.ERC721InvalidOperator.selector, address(0)));
        registry.setApprovalForAll(address(0), true);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidOwner.selector, address(0)));
        registry.balanceOf(address(0));
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 77));
        registry.ownerOf(77);
    }

    // ---- balances: mint, transfer and burn all go through one place ----

    /// @dev After any sequence of batch mints, transfers and re-issues (a burn then a mint), each
    /// holder's balance is the number of tokens whose owner it is.
    function testFuzz_BalancesCountWhatTheOwnersSay(uint8 batch, uint256 moves) public {
        address[3] memory holders = [ALICE, BOB, STRANGER];
        uint256 count = uint256(batch) % 6 + 1;
        vm.prank(ISSUER);
        uint256[] memory ids = registry.mintBatch(BOB, requests(100, count));
        for (uint256 step = 0; step < 12; ++step) {
            uint256 pick = (moves >> (step * 4)) & 0xf;
            uint256 id = pick % 2 == 0 ? tokenId : ids[pick % count];
            address owner = registry.ownerOf(id);
            address to = holders[(pick >> 1) % 3];
            if (pick % 5 == 4 && !registry.certificate(id).revoked) {
                // Revoked, approved and re-issued: the old holder loses it, `to` gets it.
                vm.prank(ISSUER);
                registry.revoke(id, "fuzzed");
                vm.prank(ADMIN);
                registry.approveReissue(id, ISSUER, "fuzzed");
                CertificateRegistry.MintRequest memory again = request(id == tokenId ? 9 : 100 + _indexOf(ids, id));
                vm.prank(ISSUER);
                registry.reissue(to, again);
            } else {
                vm.prank(owner);
                registry.transferFrom(owner, to, id);
            }
        }
        uint256 total;
        for (uint256 h = 0; h < holders.length; ++h) {
            uint256 owned = registry.ownerOf(tokenId) == holders[h] ? 1 : 0;
            for (uint256 i = 0; i < count; ++i) owned += registry.ownerOf(ids[i]) == holders[h] ? 1 : 0;
            assertEq(registry.balanceOf(holders[h]), owned, "balance counts owned tokens");
            total += owned;
        }
        assertEq(total, count + 1, "every token has one holder");
    }

    function _indexOf(uint256[] memory ids, uint256 id) private pure returns (uint256) {
        for (uint256 i = 0; i < ids.length; ++i) if (ids[i] == id) return i;
        revert("not minted");
    }

    // ---- ERC-165 ----

    function test_SupportsTheSpecifiedInterfaceIds() public view {
        assertTrue(registry.supportsInterface(0x80ac58cd), "ERC-721");
        assertTrue(registry.supportsInterface(0x5b5e139f), "ERC-721 metadata");
        assertTrue(registry.supportsInterface(0x49064906), "ERC-4906");
        assertTrue(registry.supportsInterface(0x7965db0b), "AccessControl");
        assertTrue(registry.supportsInterface(0x01ffc9a7), "ERC-165");
        assertTrue(!registry.supportsInterface(0xffffffff), "0xffffffff must be false (ERC-165)");
    }

    function test_SpecifiedIdsMatchTheInterfaceDefinitions() public pure {
        assertEq(bytes32(type(IERC721).interfaceId), bytes32(bytes4(0x80ac58cd)), "IERC721");
        assertEq(bytes32(type(IERC721Metadata).interfaceId), bytes32(bytes4(0x5b5e139f)), "IERC721Metadata");
        assertEq(bytes32(type(IAccessControl).interfaceId), bytes32(bytes4(0x7965db0b)), "IAccessControl");
        assertEq(bytes32(type(IERC165).interfaceId), bytes32(bytes4(0x01ffc9a7)), "IERC165");
    }

    function testFuzz_OtherInterfaceIdsAreUnsupported(bytes4 id) public view {
        vm.assume(id != 0x80ac58cd && id != 0x5b5e139f && id != 0x49064906 && id != 0x7965db0b && id != 0x01ffc9a7);
        assertTrue(!registry.supportsInterface(id), "unexpected interface");
    }
}
