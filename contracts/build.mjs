#!/usr/bin/env node
// Compiles every contract under src/ with the npm `solc` package (pinned in package.json) into
// artifacts/<Name>.json. `forge build` would download a compiler; this needs nothing but npm.
//
//   node build.mjs           write artifacts/
//   node build.mjs --check   exit 1 if artifacts/ differs from what the sources compile to
//
// Output is deterministic: sources are read in sorted order, settings are fixed and JSON keys are
// written in a fixed order, so the same sources always give byte-identical artifacts.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const solc = require('solc')

const ROOT = dirname(fileURLToPath(import.meta.url))
const SRC = join(ROOT, 'src')
const OUT = join(ROOT, 'artifacts')
const NODE_MODULES = join(ROOT, 'node_modules')

// evmVersion cancun: understood by every current L1/L2 node, not only by the newest anvil.
const SETTINGS = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 200 },
  outputSelection: {
    '*': {
      '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.deployedBytecode.immutableReferences'],
    },
  },
}

function listSol(dir) {
  const found = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) found.push(...listSol(path))
    else if (name.endsWith('.sol')) found.push(path)
  }
  return found
}

function sha256(text) {
  return createHash('sha256').update(text).digest('hex')
}

function compile() {
  const sources = {}
  for (const path of listSol(SRC)) {
    const unit = relative(ROOT, path).split(sep).join('/')
    sources[unit] = { content: readFileSync(path, 'utf8') }
  }
  const imported = {}
  const findImports = (unit) => {
    const path = join(NODE_MODULES, unit)
    if (!unit.startsWith('@') || !existsSync(path)) {
      return { error: `cannot resolve import "${unit}": run \`npm ci\` in contracts/` }
    }
    imported[unit] = readFileSync(path, 'utf8')
    return { contents: imported[unit] }
  }
  const input = { language: 'Solidity', sources, settings: SETTINGS }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }))
  const problems = (output.errors || []).filter((e) => e.severity === 'error')
  for (const e of output.errors || []) process.stderr.write(`${e.formattedMessage || e.message}\n`)
  if (problems.length > 0) throw new Error(`solc reported ${problems.length} error(s)`)

  // One hash over every source that went into the build (ours and OpenZeppelin's) and the
  // settings, so an artifact names exactly what it was compiled from.
  const allUnits = { ...Object.fromEntries(Object.entries(sources).map(([k, v]) => [k, v.content])), ...imported }
  const hashInput = Object.keys(allUnits)
    .sort()
    .map((unit) => `${unit}\n${sha256(allUnits[unit])}\n`)
    .join('')
  const sourcesHash = sha256(hashInput + JSON.stringify(SETTINGS))

  const artifacts = {}
  for (const unit of Object.keys(sources).sort()) {
    for (const [name, contract] of Object.entries(output.contracts[unit] || {}).sort()) {
      const bytecode = contract.evm.bytecode.object
      if (!bytecode) continue // interfaces and abstract contracts
      if (artifacts[name]) throw new Error(`two contracts named ${name}: names must be unique`)
      const artifact = {
        contractName: name,
        sourceName: unit,
        compiler: { name: 'solc', version: solc.version(), settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer } },
        sourcesHash,
        abi: contract.abi,
        bytecode: `0x${bytecode}`,
        deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
        immutableReferences: contract.evm.deployedBytecode.immutableReferences || {},
      }
      artifacts[name] = `${JSON.stringify(artifact, null, 2)}\n`
    }
  }
  return artifacts
}

function main() {
  const check = process.argv.includes('--check')
  const artifacts = compile()
  const existing = existsSync(OUT) ? readdirSync(OUT).filter((f) => f.endsWith('.json')) : []
  const expected = new Set(Object.keys(artifacts).map((n) => `${n}.json`))
  if (check) {
    const stale = []
    for (const [name, text] of Object.entries(artifacts)) {
      const path = join(OUT, `${name}.json`)
      if (!existsSync(path)) stale.push(`${name}.json (missing)`)
      else if (readFileSync(path, 'utf8') !== text) stale.push(`${name}.json (differs)`)
    }
    for (const file of existing) if (!expected.has(file)) stale.push(`${file} (no longer built)`)
    if (stale.length > 0) {
      process.stderr.write(`contracts/artifacts is stale: ${stale.join(', ')}\nrebuild with \`npm run build\` in contracts/\n`)
      process.exit(1)
    }
    process.stderr.write(`contracts/artifacts is up to date (${expected.size} contracts)\n`)
    return
  }
  mkdirSync(OUT, { recursive: true })
  for (const file of existing) if (!expected.has(file)) rmSync(join(OUT, file))
  for (const [name, text] of Object.entries(artifacts)) writeFileSync(join(OUT, `${name}.json`), text)
  process.stderr.write(`wrote ${expected.size} artifacts to contracts/artifacts\n`)
}

main()
