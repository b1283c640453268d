// page.mjs URL TEXT PNG: bnserve's chat page in headless Chromium
// (Debian's, at $CHROMIUM or /usr/bin/chromium): type TEXT, send it, wait
// until the streamed reply is complete, save a screenshot to PNG and
// print {"state", "user", "reply", "model"} as JSON.
import { chromium } from "playwright-core";

const [url, text, png] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"]
});
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
  await page.goto(url);
  await page.waitForFunction(() =>
    document.getElementById("model").textContent !== "connecting...");
  await page.fill("#temp", "0");
  await page.fill("#input", text);
  await page.press("#input", "Enter");
  await page.waitForFunction(() => document.body.dataset.state === "done" ||
    document.body.dataset.state === "error", null, { timeout: 120000 });
  await page.screenshot({ path: png });
  const r = await page.evaluate(() => ({
    state: document.body.dataset.state,
    model: document.getElementById("model").textContent,
    user: [...document.querySelectorAll(".msg.user")].map((e) => e.textContent),
    reply: [...document.querySelectorAll(".msg.assistant, .msg.error")]
      .map((e) => e.textContent)
  }));
  console.log(JSON.stringify(r));
} finally {
  await browser.close();
}
