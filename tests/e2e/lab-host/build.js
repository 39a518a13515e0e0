#!/usr/bin/env node
/**
 * Builds the host with webpack's API (no webpack-cli needed). --development for a fast,
 * unminified build; the default is production (what users get, and the mode in which module-id
 * collisions between federated bundles show up).
 */
const webpack = require("webpack");
if (process.argv.includes("--development")) process.env.LAB_HOST_MODE = "development";
const configs = require("./webpack.config.js");
webpack(configs, (err, stats) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  const info = stats.toString({ all: false, errors: true, warnings: false, colors: false });
  if (stats.hasErrors()) {
    console.error(info);
    process.exit(1);
  }
  console.log(`lab-host: built (${process.env.LAB_HOST_MODE || "production"})`);
});
