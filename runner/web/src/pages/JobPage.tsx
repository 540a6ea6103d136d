/** /jobs/:id: description, triggers and next times, the plan at the head, and the launch form. */
import Button from "@mui/material/Button";
import Link from "@mui/material/Link";
import List from "@mui/material/List";
import ListItem from "@mui/material/ListItem";
import Typography from "@mui/material/Typography";
import Form from "@rjsf/mui";
import type { ErrorSchema, RJSFSchema } from "@rjsf/utils";
import { useEffect, useRef, useState } from "react";
import { post, type Me } from "../api.js";
import { navigate } from "../router.js";
import { errorSchemaOf, serverCheckedValidator } from "../server-checked-validator.js";
import { useApi } from "../use-api.js";
import { Failure, Loading, PageTitle, Section, when } from "../ui.js";
import { triggerText, type Triggers } from "./JobsPage.js";

interface JobView {
  id: string;
  description: string;
  commit: string;
  commitUrl?: string;
  triggers: Triggers;
  inputsSchema: RJSFSchema;
  plan: {
    phases: Array<{ name: string; targets: string[]; steps: Array<{ id: string; name: string }> }>;
    note?: string;
  };
  mayRun: boolean;
}

type Inputs = Record<string, unknown>;

export function JobPage({ id, who }: { id: string; who: Me }) {
  const job = useApi<JobView>(`/api/jobs/${id}`);
  const [formData, setFormData] = useState<Inputs>({});
  const [errors, setErrors] = useState<ErrorSchema<Inputs>>({});
  const [submitError, setSubmitError] = useState<string>();
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const [checked, setChecked] = useState(false);

  const check = async (data: Inputs): Promise<boolean> => {
    const { problems } = await post<{ problems: Record<string, string[]> }>(`/api/jobs/${id}/check`, {
      inputs: data,
    });
    setErrors(errorSchemaOf(problems));
    setChecked(true);
    return Object.keys(problems).length === 0;
  };
  useEffect(() => () => clearTimeout(timer.current), []);
  // The server checks again before it runs anything; this check only spares a refused request.
  const launch = async (): Promise<void> => {
    setSubmitError(undefined);
    clearTimeout(timer.current);
    try {
      if (!(await check(formData))) return;
      const run = await post<{ id: string }>(`/api/jobs/${id}/runs`, { inputs: formData });
      navigate(`/runs/${run.id}`);
    } catch (err) {
      setSubmitError((err as Error).message);
    }
  };
  useEffect(() => {
    if (job.data?.mayRun) void check({}).catch(() => undefined);
  }, [job.data?.mayRun]);

  if (job.error) return <Failure error={job.error} />;
  if (!job.data) return <Loading what="the job" />;
  const j = job.data;
  // The server says per job (access policy); an identity without any role never gets the form either.
  const canLaunch = j.mayRun && (who.admin || !who.identities || who.roles.length > 0);
  return (
    <>
      <PageTitle>{`Job ${j.id}`}</PageTitle>
      <Typography>{j.description || "No description."}</Typography>
      <Section title="Triggers">
        <Typography>{triggerText(j.triggers) || "None: this job runs only when called."}</Typography>
        {j.triggers.schedule.map((s) => (
          <Typography key={s.cron + s.timezone} variant="body2">
            Next {s.cron} in {s.timezone}: {s.next.map(when).join(", ")}
          </Typography>
        ))}
      </Section>
      <Section title="Plan at the default branch's head">
        <Typography variant="body2">
          Commit{" "}
          {j.commitUrl ? <Link href={j.commitUrl}>{j.commit.slice(0, 12)}</Link> : j.commit.slice(0, 12)}
          {j.plan.note ? ` — with default inputs: ${j.plan.note}` : ""}
        </Typography>
        <List dense aria-label="Phases">
          {j.plan.phases.map((p) => (
            <ListItem key={p.name} sx={{ display: "block" }}>
              <strong>{p.name}</strong>: targets {p.targets.join(", ") || "(decided by the inputs)"}; steps{" "}
              {p.steps.map((s) => s.id).join(", ") || "(decided by the inputs)"}
            </ListItem>
          ))}
        </List>
      </Section>
      <Section title="Launch">
        {!j.triggers.manual ? (
          <Typography>This job does not allow manual runs (on.manual: false).</Typography>
        ) : !canLaunch ? (
          <Typography>You may view this job but not run it.</Typography>
        ) : (
          <>
            <Failure error={submitError} />
            <Form
              schema={{ title: "", ...j.inputsSchema }}
              formData={formData}
              validator={serverCheckedValidator}
              extraErrors={errors}
              showErrorList={false}
              noHtml5Validate
              onChange={(e) => {
                const data = (e.formData ?? {}) as Inputs;
                setFormData(data);
                clearTimeout(timer.current);
                timer.current = setTimeout(() => void check(data).catch(() => undefined), 200);
              }}
              onSubmit={() => void launch()}
            >
              <Button
                type="button"
                variant="contained"
                disabled={!checked}
                data-testid="launch"
                sx={{ mt: 2 }}
                onClick={() => void launch()}
              >
                Launch
              </Button>
            </Form>
          </>
        )}
      </Section>
    </>
  );
}
