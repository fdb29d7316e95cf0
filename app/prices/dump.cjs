// Dumps the Anthropic, OpenAI and Google price data of @pydantic/genai-prices
// (MIT) as JSON for Keypool's embedded price table.
const p = require(process.argv[2]);
const pkg = require(process.argv[3]);
const out = { source: "npm @pydantic/genai-prices@" + pkg.version + " (MIT, https://github.com/pydantic/genai-prices)", generated: new Date().toISOString().slice(0, 10), providers: {} };
for (const id of ["anthropic", "openai", "google"]) {
  const prov = p.findProvider({ providerId: id });
  out.providers[id] = prov.models.map(m => ({ id: m.id, match: m.match, prices: m.prices }));
}
process.stdout.write(JSON.stringify(out, null, 1));
