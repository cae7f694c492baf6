// Imported first by the tests that read the handlers' EMF: turns Powertools Metrics back on (scripts/test.sh turns
// it off for the unit suite) before any handler module constructs the metrics instance. ES modules run their
// imports in order, so this runs before the imports after it.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
delete process.env.POWERTOOLS_METRICS_NAMESPACE;
// What Lambda sets in an on-demand container; Powertools' cold-start metric exists only then.
process.env.AWS_LAMBDA_INITIALIZATION_TYPE ??= 'on-demand';
