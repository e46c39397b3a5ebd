// Runs the axe-core audit on the open page (axe.min.js is injected first) and calls back
// with the violations only: rule id, impact, help text and where (CSS selectors).
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] }).then((r) => done(r.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    count: v.nodes.length,
})))).catch((e) => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [], count: 1 }]));
