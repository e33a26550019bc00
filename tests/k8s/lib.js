"use strict";
// Shared by validate.js and check.js: reading kustomize's output.
const fs = require("fs");
const YAML = require("yaml");

/** The objects of a multi-document YAML file; throws on a syntax error. */
function readObjects(file) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  const objects = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

/** "Deployment/gateway" for messages. */
function describe(obj) {
  const name = obj && obj.metadata && obj.metadata.name;
  return `${(obj && obj.kind) || "?"}/${name || "?"}`;
}

/** The YAML files named, or found in the directories named, sorted. */
function yamlFiles(paths) {
  const files = [];
  for (const p of paths) {
    if (fs.statSync(p).isDirectory()) {
      for (const f of fs.readdirSync(p).sort()) if (/\.ya?ml$/.test(f)) files.push(`${p}/${f}`);
    } else {
      files.push(p);
    }
  }
  return files;
}

module.exports = { readObjects, describe, yamlFiles };
