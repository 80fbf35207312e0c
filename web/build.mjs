// Build the web app into dist/: one minified bundle (esbuild), the page and its stylesheet.
// Prints the bundle's size, raw and gzipped (make bench reads it too).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist", { recursive: true });
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  splitting: true, // hls.js loads only when a replay plays
  target: ["es2022"],
  outdir: "dist",
  entryNames: "app",
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning",
});
for (const file of ["index.html", "styles.css"]) copyFileSync(file, `dist/${file}`);
const js = readFileSync("dist/app.js");
console.log(`web/dist/app.js: ${js.length} bytes, ${gzipSync(js).length} bytes gzipped`);
