/**
 * Prometheus metrics for `GET /metrics` (prom-client), fed from the same run
 * events as everything else. One registry per server, so tests can build two.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RunEvent } from "../core/run-events.js";

export class ServerMetrics {
  readonly registry = new Registry();
  readonly runs = new Counter({
    name: "opsc_runs_total",
    help: "Finished runs by job and result",
    labelNames: ["job", "result"] as const,
    registers: [this.registry],
  });
  readonly stepSeconds = new Histogram({
    name: "opsc_step_duration_seconds",
    help: "Step durations by job and outcome",
    labelNames: ["job", "outcome"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "opsc_queue_depth",
    help: "Work items waiting to run",
    registers: [this.registry],
  });
  readonly running = new Gauge({
    name: "opsc_runs_active",
    help: "Runs in progress",
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: "opsc_deliveries_total",
    help: "Webhook deliveries and API requests by source and outcome",
    labelNames: ["source", "outcome"] as const,
    registers: [this.registry],
  });
  readonly missedTicks = new Counter({
    name: "opsc_schedule_missed_total",
    help: "Schedule ticks that were not fired on time",
    labelNames: ["job"] as const,
    registers: [this.registry],
  });

  constructor(options: { defaults?: boolean } = {}) {
    if (options.defaults) collectDefaultMetrics({ register: this.registry });
  }

  observe(job: string, event: RunEvent): void {
    if (event.type === "step.finished")
      this.stepSeconds.observe({ job, outcome: event.outcome }, event.ms / 1000);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
