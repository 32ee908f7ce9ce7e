// Lighthouse on a list of pages in one chromium: `node run.mjs PAGES.json` prints one JSON
// line per page with its category scores and the audits that lost points.
// PAGES.json: {"pages": [{"name", "url"}], "cookie": "session=…"}. Mobile settings
// (Lighthouse's default: a Moto G power-sized screen, simulated slow 4G and CPU).
import fs from "node:fs";
import lighthouse from "lighthouse";
import * as chromeLauncher from "chrome-launcher";

const { pages, cookie } = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROME_PATH || "/usr/bin/chromium",
  chromeFlags: ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-quic"],
});
try {
  for (const page of pages) {
    const result = await lighthouse(page.url, {
      port: chrome.port, output: "json", logLevel: "error",
      onlyCategories: ["performance", "accessibility", "best-practices"],
      extraHeaders: cookie ? { Cookie: cookie } : undefined,
    });
    const lhr = result.lhr;
    const scores = Object.fromEntries(
      Object.entries(lhr.categories).map(([id, category]) => [id, category.score]));
    const lost = Object.values(lhr.audits)
      .filter((a) => a.score !== null && a.score < 1
              && !["informative", "notApplicable", "manual"].includes(a.scoreDisplayMode))
      .map((a) => `${a.id} ${a.score}${a.displayValue ? " (" + a.displayValue + ")" : ""}`);
    console.log(JSON.stringify({ name: page.name, url: lhr.finalDisplayedUrl, scores, lost,
                                 error: lhr.runtimeError ? lhr.runtimeError.message : null }));
  }
} finally {
  await chrome.kill();
}
