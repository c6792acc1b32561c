// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Vm} from "./Vm.sol";

/**
 * @title TestBase
 * @notice Cheatcode handle and the assertions the tests need. A failed
 * assertion reverts with both values, so the runner's message says what differed.
 */
abstract contract TestBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function assertEq(uint256 actual, uint256 expected, string memory what) internal pure {
        if (actual != expected) _fail(what, vm.toString(actual), vm.toString(expected));
    }

    function assertEq(address actual, address expected, string memory what) internal pure {
        if (actual != expected) _fail(what, vm.toString(actual), vm.toString(expected));
    }

    function assertEq(bytes32 actual, bytes32 expected, string memory what) internal pure {
        if (actual != expected) _fail(what, vm.toString(actual), vm.toString(expected));
    }

    function assertEq(bool actual, bool expected, string memory what) internal pure {
        if (actual != expected) _fail(what, vm.toString(actual), vm.toString(expected));
    }

    function assertEq(string memory actual, string memory expected, string memory what) internal pure {
        if (keccak256(bytes(actual)) != keccak256(bytes(expected))) _fail(what, actual, expected);
    }

    function assertTrue(bool condition, string memory what) internal pure {
        if (!condition) revert(what);
    }

    /// @dev Maps any fuzzed value into [min, max] without rejecting inputs.
    function bound(uint256 value, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + (value % (max - min + 1));
    }

    function _fail(string memory what, string memory actual, string memory expected) private pure {
        revert(string.concat(what, ": got ", actual, ", want ", expected));
    }
}
