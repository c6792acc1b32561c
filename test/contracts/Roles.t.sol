// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {CertificateRegistry} from "../../contracts/CertificateRegistry.sol";
import {Vm} from "./Vm.sol";
import {RegistryFixture} from "./RegistryFixture.sol";

/// @notice Issuers by AccessControl: only ISSUER_ROLE mints, the admin grants and revokes.
contract RolesTest is RegistryFixture {
    bytes32 private constant ADMIN_ROLE = 0x00;

    function test_ConstructorMakesOnlyTheGivenAccountAdmin() public view {
        assertTrue(registry.hasRole(ADMIN_ROLE, ADMIN), "admin holds DEFAULT_ADMIN_ROLE");
        assertTrue(!registry.hasRole(ADMIN_ROLE, address(this)), "deployer is not admin");
        assertTrue(!registry.hasRole(issuerRole, ADMIN), "admin is not an issuer by default");
        assertEq(issuerRole, keccak256("ISSUER_ROLE"), "ISSUER_ROLE id");
    }

    function testFuzz_AccountWithoutIssuerRoleCannotMint(address caller) public {
        vm.assume(caller != ISSUER && caller != OTHER_ISSUER);
        expectRevertFrom(
            caller,
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, issuerRole)
        );
        registry.mint(ALICE, request(1));
    }

    function test_AdminWithoutIssuerRoleCannotMintOrBatch() public {
        vm.startPrank(ADMIN);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ADMIN, issuerRole)
        );
        registry.mint(ALICE, request(1));
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ADMIN, issuerRole)
        );
        registry.mintBatch(ALICE, requests(1, 2));
        vm.stopPrank();
    }

    function test_NonAdminCannotGrantOrRevokeIssuers() public {
        vm.startPrank(ISSUER);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ISSUER, ADMIN_ROLE)
        );
        registry.grantRole(issuerRole, STRANGER);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ISSUER, ADMIN_ROLE)
        );
        registry.revokeRole(issuerRole, OTHER_ISSUER);
        vm.stopPrank();
        assertTrue(!registry.hasRole(issuerRole, STRANGER), "stranger still not an issuer");
        assertTrue(registry.hasRole(issuerRole, OTHER_ISSUER), "other issuer keeps its role");
    }

    function test_GrantedIssuerMintsAndRevokedIssuerNoLonger() public {
        vm.prank(ADMIN);
        registry.grantRole(issuerRole, STRANGER);
        uint256 tokenId = mintAs(STRANGER, ALICE, request(1));
        assertEq(registry.certificate(tokenId).issuer, STRANGER, "issuer recorded");

        vm.prank(ADMIN);
        registry.revokeRole(issuerRole, STRANGER);
        expectRevertFrom(
            STRANGER,
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, STRANGER, issuerRole)
        );
        registry.mint(ALICE, request(2));
    }

    function test_FirstGrantRegistersIssuerOnceWithNextNumber() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit CertificateRegistry.IssuerRegistered(STRANGER, 3);
        vm.prank(ADMIN);
        registry.grantRole(issuerRole, STRANGER);

        // Revoking and granting again keeps the number: no second registration.
        vm.recordLogs();
        vm.startPrank(ADMIN);
        registry.revokeRole(issuerRole, STRANGER);
        registry.grantRole(issuerRole, STRANGER);
        registry.grantRole(issuerRole, STRANGER); // already held: no-op
        vm.stopPrank();
        assertEq(_count(vm.getRecordedLogs(), CertificateRegistry.IssuerRegistered.selector), 0, "re-registrations");
        assertTrue(registry.hasRole(issuerRole, STRANGER), "role held again");
    }

    function test_CertificatesKeepTheirIssuerAcrossRoleChanges() public {
        uint256 first = mintAs(ISSUER, ALICE, request(1));
        uint256 second = mintAs(OTHER_ISSUER, ALICE, request(2));
        vm.startPrank(ADMIN);
        registry.revokeRole(issuerRole, ISSUER);
        registry.grantRole(issuerRole, STRANGER);
        registry.grantRole(issuerRole, ISSUER);
        vm.stopPrank();
        uint256 third = mintAs(ISSUER, BOB, request(3));
        assertEq(registry.certificate(first).issuer, ISSUER, "first issuer");
        assertEq(registry.certificate(second).issuer, OTHER_ISSUER, "second issuer");
        assertEq(registry.certificate(third).issuer, ISSUER, "issuer after re-grant");
    }

    function test_GrantingAnotherRoleRegistersNoIssuer() public {
        vm.recordLogs();
        vm.prank(ADMIN);
        registry.grantRole(ADMIN_ROLE, STRANGER);
        assertEq(_count(vm.getRecordedLogs(), CertificateRegistry.IssuerRegistered.selector), 0, "registrations");
        // A new admin may grant issuers.
        vm.prank(STRANGER);
        registry.grantRole(issuerRole, BOB);
        assertTrue(registry.hasRole(issuerRole, BOB), "new admin granted an issuer");
    }

    // ---- admin and issuer are separate accounts ----

    function test_AnAdminCannotBeGrantedIssuerRole() public {
        expectRevertFrom(ADMIN, abi.encodeWithSelector(CertificateRegistry.RoleConflict.selector, ADMIN, issuerRole));
        registry.grantRole(issuerRole, ADMIN);
        assertTrue(!registry.hasRole(issuerRole, ADMIN), "admin is no issuer");
    }

    function test_AnIssuerCannotBeGrantedAdminRole() public {
        expectRevertFrom(ADMIN, abi.encodeWithSelector(CertificateRegistry.RoleConflict.selector, ISSUER, ADMIN_ROLE));
        registry.grantRole(ADMIN_ROLE, ISSUER);
        assertTrue(!registry.hasRole(ADMIN_ROLE, ISSUER), "issuer is no admin");
    }

    function test_AFormerIssuerMayBecomeAdminAndAFormerAdminIssuer() public {
        vm.startPrank(ADMIN);
        registry.revokeRole(issuerRole, ISSUER);
        registry.grantRole(ADMIN_ROLE, ISSUER);
        vm.stopPrank();
        assertTrue(registry.hasRole(ADMIN_ROLE, ISSUER), "former issuer is admin");
        vm.prank(ISSUER);
        registry.renounceRole(ADMIN_ROLE, ISSUER);
        vm.prank(ADMIN);
        registry.grantRole(issuerRole, ISSUER);
        assertTrue(registry.hasRole(issuerRole, ISSUER), "former admin is issuer again");
    }

    function test_RegisteredIssuersListsEveryAccountEverGranted() public {
        address[] memory listed = registry.registeredIssuers();
        assertEq(listed.length, 2, "two issuers");
        assertEq(listed[0], ISSUER, "first");
        assertEq(listed[1], OTHER_ISSUER, "second");
        vm.startPrank(ADMIN);
        registry.grantRole(issuerRole, STRANGER);
        registry.revokeRole(issuerRole, ISSUER);
        vm.stopPrank();
        listed = registry.registeredIssuers();
        assertEq(listed.length, 3, "revoking keeps the number; granting adds one");
        assertEq(listed[2], STRANGER, "third");
        assertEq(listed[0], ISSUER, "revoked issuer still listed (hasRole says it lost the role)");
    }

    function _count(Vm.Log[] memory logs, bytes32 topic0) private pure returns (uint256 n) {
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics.length > 0 && logs[i].topics[0] == topic0) ++n;
        }
    }
}
