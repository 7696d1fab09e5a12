import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The app is served at /t/{tenant}/app/ for every tenant; index.html gets a
// <base href> from the server, so asset addresses stay relative.
export default defineConfig({
  base: "./",
  plugins: [preact()],
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false, chunkSizeWarningLimit: 600 },
});
