// Connection quality from getStats: round-trip time and packet loss over the last interval.
export type Quality = "good" | "fair" | "poor" | "unknown";

export interface QualitySample {
  quality: Quality;
  rttMs: number | null;
  lossPercent: number;
}

interface Counters {
  received: number;
  lost: number;
}

/** Good under 150 ms and 2 % loss, fair under 400 ms and 8 %, else poor. */
export function classify(rttMs: number | null, lossPercent: number): Quality {
  if (rttMs === null && lossPercent === 0) return "unknown";
  const rtt = rttMs ?? 0;
  if (rtt < 150 && lossPercent < 2) return "good";
  if (rtt < 400 && lossPercent < 8) return "fair";
  return "poor";
}

/** Samples RTT and loss of a set of peer connections; each call covers the time since the last. */
export class QualityMeter {
  private last: Counters;

  constructor() {
    this.last = { received: 0, lost: 0 };
  }

  async sample(pcs: RTCPeerConnection[]): Promise<QualitySample> {
    let rtt: number | null = null;
    const now: Counters = { received: 0, lost: 0 };
    for (const pc of pcs) {
      if (pc.connectionState === "closed") continue;
      const report = await pc.getStats();
      report.forEach((stat: Record<string, unknown>) => {
        if (stat.type === "candidate-pair" && stat.nominated && stat.state === "succeeded") {
          const value = stat.currentRoundTripTime;
          if (typeof value === "number") rtt = Math.max(rtt ?? 0, value * 1000);
        }
        if (stat.type === "inbound-rtp") {
          now.received += Number(stat.packetsReceived ?? 0);
          now.lost += Math.max(0, Number(stat.packetsLost ?? 0));
        }
        if (stat.type === "remote-inbound-rtp") {
          const value = stat.roundTripTime;
          if (typeof value === "number" && rtt === null) rtt = value * 1000;
        }
      });
    }
    const received = Math.max(0, now.received - this.last.received);
    const lost = Math.max(0, now.lost - this.last.lost);
    this.last = now;
    const loss = received + lost > 0 ? (100 * lost) / (received + lost) : 0;
    return { quality: classify(rtt, loss), rttMs: rtt, lossPercent: loss };
  }
}
