// Prints one plain closing line, "N passed, N failed", that CI reads (jest's own summary is
// not). Jest prints its summary after the reporters run, so the line goes out at exit.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`;
    const write = () => require("node:fs").writeSync(1, `\n${line}\n`);
    process.once("exit", write);
  }
}
module.exports = SummaryReporter;
