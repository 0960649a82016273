import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderReadme } from "../scripts/readme-tables.js";
import { ROOT } from "./support/stdio.js";

describe("README", () => {
  it("has tool and provider tables that match the registries (regenerate with npm run docs)", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    expect(readme).toContain("<!-- tools:start -->");
    expect(readme).toContain("<!-- providers:start -->");
    expect(renderReadme(readme)).toBe(readme);
  });

  it("shows the two quick-start commands", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm test");
  });
});
