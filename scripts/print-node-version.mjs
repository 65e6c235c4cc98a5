// npm scripts run with node_modules/.bin first on PATH, so `node` here is the `node` package from devDependencies
// (Node 24 LTS), whatever Node runs npm itself. Fail loudly if that selection ever stops working.
const major = Number(process.versions.node.split('.')[0]);
console.log(`node ${process.version} (${process.execPath})`);
if (major < 24) {
  console.error('Tributary needs Node >= 24 for its scripts; run `npm ci` so node_modules/.bin/node (Node 24 LTS) is used.');
  process.exit(1);
}
