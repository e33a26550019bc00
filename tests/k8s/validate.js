"use strict";
// validate.js FILE_OR_DIR...: every object of the rendered manifests against
// the schemas of the Kubernetes API (kubernetes-models) and of KEDA's custom
// resources (@kubernetes-models/keda, from KEDA's CRDs), offline, fields the
// schema does not know included. Exits 1 naming each error.
// validate.js --expect-invalid DIR: each YAML file of DIR is a broken
// manifest whose first line is `# expect: TEXT`; each must fail validation
// with an error containing TEXT (proof that the validator can fail). Exits 1
// when one passes or fails for another reason.
const fs = require("fs");
const path = require("path");
const { readObjects, describe, yamlFiles } = require("./lib.js");

// The compiled validators of kubernetes-models read every property their
// schema declares (and iterate maps); a property of a schema'd object that
// was never read is one the schema does not have: a typo such as
// `livenessProbes`, which the API server would drop or reject.
function tracked(root) {
  const seen = [];
  const proxies = new WeakMap();
  const wrap = (obj, where) => {
    if (proxies.has(obj)) return proxies.get(obj);
    const read = new Set();
    seen.push({ obj, where, read });
    const proxy = new Proxy(obj, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof key !== "string" || !Object.prototype.hasOwnProperty.call(target, key)) return value;
        read.add(key);
        return value !== null && typeof value === "object" ? wrap(value, `${where}/${key}`) : value;
      },
    });
    proxies.set(obj, proxy);
    return proxy;
  };
  const unknown = () => {
    const out = [];
    for (const { obj, where, read } of seen) {
      for (const key of Object.keys(obj)) if (!read.has(key)) out.push(`${where}/${key}`);
    }
    return out;
  };
  return { proxy: wrap(root, ""), unknown };
}

// The packages of the API groups that are not Kubernetes' own.
const kPackages = { "keda.sh": "@kubernetes-models/keda" };

function modelFor(apiVersion, kind) {
  // "v1" → kubernetes-models/v1/Service; "apps/v1" → kubernetes-models/apps/v1/Deployment;
  // "keda.sh/v1alpha1" → @kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z0-9]+$/.test(kind)) return null;
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  const pkg = kPackages[group] || "kubernetes-models";
  try {
    return require(`${pkg}/${apiVersion}/${kind}`)[kind] || null;
  } catch (e) {
    if (e.code === "MODULE_NOT_FOUND" || e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED") return null;
    throw e;
  }
}

/** The errors of one object (empty when valid). */
function validateObject(obj) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return ["not an object"];
  const Model = modelFor(obj.apiVersion, obj.kind);
  if (!Model) return [`no schema for apiVersion ${obj.apiVersion}, kind ${obj.kind}`];
  return validateWith(Model, withUnwrappedBase64(obj));
}

// kustomize v5 folds a long base64 value of a Secret over several lines; the
// API server's decoder (Go's encoding/base64) skips the line breaks, the
// schema's "byte" format does not.
function withUnwrappedBase64(obj) {
  if (obj.apiVersion !== "v1" || obj.kind !== "Secret" || !obj.data || typeof obj.data !== "object") return obj;
  const data = {};
  for (const [key, value] of Object.entries(obj.data)) {
    data[key] = typeof value === "string" ? value.replace(/[\r\n]/g, "") : value;
  }
  return { ...obj, data };
}

function validateWith(Model, data) {
  const model = new Model(data);
  const { proxy, unknown } = tracked(model);
  const errors = [];
  try {
    Model.prototype.validate.call(proxy);
  } catch (e) {
    errors.push(e.message);
  }
  for (const field of unknown()) errors.push(`data${field} is not a field of the schema`);
  return errors;
}

/** [{where, error}] for every object of the files. */
function validateFiles(files) {
  const problems = [];
  for (const file of files) {
    let objects;
    try {
      objects = readObjects(file);
    } catch (e) {
      problems.push({ where: file, error: e.message });
      continue;
    }
    if (objects.length === 0) problems.push({ where: file, error: "no objects" });
    for (const obj of objects) {
      for (const error of validateObject(obj)) problems.push({ where: `${path.basename(file)}: ${describe(obj)}`, error });
    }
  }
  return problems;
}

function main(argv) {
  if (argv[0] === "--expect-invalid") {
    const files = yamlFiles(argv.slice(1));
    let bad = 0;
    if (files.length === 0) {
      console.error("validate: no broken manifests found");
      return 1;
    }
    for (const file of files) {
      const first = fs.readFileSync(file, "utf8").split("\n", 1)[0];
      const expect = (first.match(/^# expect: (.+)$/) || [])[1];
      const problems = validateFiles([file]);
      const text = problems.map((p) => p.error).join("; ");
      if (!expect) {
        console.error(`FAIL ${file}: no "# expect: TEXT" first line`);
        bad++;
      } else if (problems.length === 0) {
        console.error(`FAIL ${path.basename(file)}: passed validation; expected "${expect}"`);
        bad++;
      } else if (!text.includes(expect)) {
        console.error(`FAIL ${path.basename(file)}: expected "${expect}", got: ${text}`);
        bad++;
      } else {
        console.log(`ok   ${path.basename(file)}: rejected: ${text}`);
      }
    }
    console.log(`${files.length - bad} passed, ${bad} failed`);
    return bad === 0 ? 0 : 1;
  }
  const files = yamlFiles(argv);
  if (files.length === 0) {
    console.error("usage: validate.js FILE_OR_DIR... | --expect-invalid DIR");
    return 2;
  }
  const problems = validateFiles(files);
  for (const p of problems) console.error(`${p.where}: ${p.error}`);
  let count = 0;
  for (const file of files) count += readObjects(file).length;
  console.log(`validate: ${count} objects in ${files.length} file(s), ${problems.length} error(s)`);
  return problems.length === 0 ? 0 : 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
module.exports = { validateObject };
