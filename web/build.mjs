// Build the web app into dist/: one minified bundle (esbuild), the page and its stylesheet.
// Prints the bundle's size, raw and gzipped (make bench reads it too).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

mkdirSync("dist", { recursive: true });
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: ["es2022"],
  outfile: "dist/app.js",
  logLevel: "warning",
});
for (const file of ["index.html", "styles.css"]) copyFileSync(file, `dist/${file}`);
const js = readFileSync("dist/app.js");
console.log(`web/dist/app.js: ${js.length} bytes, ${gzipSync(js).length} bytes gzipped`);
