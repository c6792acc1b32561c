// Hardhat 3 configuration. Compiles offline with the wasm compiler from the
// npm `solc` package, so no compiler is downloaded.
import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  solidity: {
    version: "0.8.28",
    path: require.resolve("solc/soljson.js"),
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 10000 },
    },
  },
  paths: {
    sources: "./contracts",
    tests: { solidity: "./test/contracts" },
  },
});
