"use strict";
// same.js A.yaml B.yaml: the two renderings of one overlay (by two kustomize
// versions) hold the same objects, once what legitimately differs is set
// aside: the generated names' hash suffixes, line breaks inside long base64
// values (v5 folds them), and empty annotations (v2.0.3 writes them).
const { readObjects, describe } = require("./lib.js");

function normalised(obj) {
  return JSON.stringify(obj, (key, value) => {
    if (typeof value === "string") return value.replace(/-[a-z0-9]{10}$/, "").replace(/\n/g, "");
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const sorted = {};
      for (const k of Object.keys(value).sort()) {
        if (k === "annotations" && Object.keys(value[k] || {}).length === 0) continue;
        sorted[k] = value[k];
      }
      return sorted;
    }
    return value;
  });
}

const [a, b] = process.argv.slice(2);
const left = new Map(readObjects(a).map((o) => [normalised(o), describe(o)]));
const right = new Map(readObjects(b).map((o) => [normalised(o), describe(o)]));
let differences = 0;
for (const [k, name] of left) if (!right.has(k)) (differences++, console.error(`only in ${a} (or different): ${name}`));
for (const [k, name] of right) if (!left.has(k)) (differences++, console.error(`only in ${b} (or different): ${name}`));
process.exitCode = differences === 0 ? 0 : 1;
