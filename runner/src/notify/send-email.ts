/**
 * Sends a notification mail through the SMTP server of opsconductor.yaml
 * (`notify.smtp`) with nodemailer. Connection failures and 4xx replies are
 * retried; 5xx replies (a refused recipient, bad credentials) are not.
 */
import nodemailer from "nodemailer";
import type { SmtpSettings } from "../core/repo-model.js";
import type { EmailMessage } from "./email-message.js";
import { DeliveryError, withRetries, type RetryPolicy, type RetryResult } from "./retry.js";

export interface EmailRequest {
  smtp: SmtpSettings;
  /** The decrypted password, when smtp.password names one. */
  password?: string;
  to: string[];
  message: EmailMessage;
  timeoutMs: number;
  retry: RetryPolicy;
}

export async function sendEmail(req: EmailRequest): Promise<RetryResult<string>> {
  const transport = nodemailer.createTransport({
    host: req.smtp.host,
    port: req.smtp.port ?? (req.smtp.secure ? 465 : 587),
    secure: req.smtp.secure,
    ...(req.smtp.username ? { auth: { user: req.smtp.username, pass: req.password ?? "" } } : {}),
    connectionTimeout: req.timeoutMs,
    greetingTimeout: req.timeoutMs,
    socketTimeout: req.timeoutMs,
    // One mail per notification: no pool to keep open after the run.
    pool: false,
  });
  try {
    return await withRetries(req.retry, async () => {
      try {
        const info = await transport.sendMail({
          from: req.smtp.from,
          to: req.to,
          subject: req.message.subject,
          text: req.message.text,
          headers: { "Auto-Submitted": "auto-generated" },
        });
        return String(info.messageId ?? "");
      } catch (e) {
        const err = e as Error & { responseCode?: number; code?: string };
        const code = err.responseCode;
        const transient = code === undefined || (code >= 400 && code < 500);
        throw new DeliveryError(
          `${code !== undefined ? `SMTP ${code}: ` : ""}${firstLine(err.message)}`,
          transient,
        );
      }
    });
  } finally {
    transport.close();
  }
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}
