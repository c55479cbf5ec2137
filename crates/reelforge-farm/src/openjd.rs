//! Open Job Description job templates (specification `jobtemplate-2023-09`), the job format
//! of AWS Deadline Cloud: one step per task, step dependencies from the task graph, and each
//! step's action the task's own command line.

use std::path::Path;

use serde_json::{Value, json};

use crate::plan::Plan;

pub const SPECIFICATION_VERSION: &str = "jobtemplate-2023-09";

/// The job template of `plan`, which lives at `plan_path`. The plan and the reelforge
/// executable are job parameters (a submitter can point them elsewhere); the workdir and input
/// are read from the plan, so workers need the same shared paths as the planning machine.
pub fn job_template(plan: &Plan, plan_path: &Path) -> Value {
    let steps: Vec<Value> = plan
        .tasks
        .iter()
        .map(|task| {
            let mut step = json!({
                "name": task.id,
                "description": format!(
                    "Stage `{}` (about {:.0} CPU seconds); outputs {}",
                    task.stage,
                    task.cost.cpu_seconds,
                    task.outputs.first().map(|path| path.display().to_string()).unwrap_or_default()
                ),
                "script": {
                    "actions": {
                        "onRun": {
                            "command": "{{Param.Reelforge}}",
                            "args": ["task", "run", task.id, "--plan", "{{Param.Plan}}", "--progress", "openjd"],
                            // Outputs are atomic, so a killed task leaves nothing half
                            // written; the notice only lets it stop between files.
                            "cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 30}
                        }
                    }
                }
            });
            if !task.dependencies.is_empty()
                && let Some(object) = step.as_object_mut()
            {
                let dependencies: Vec<Value> =
                    task.dependencies.iter().map(|dependency| json!({"dependsOn": dependency})).collect();
                object.insert("dependencies".to_owned(), Value::Array(dependencies));
            }
            step
        })
        .collect();
    json!({
        "specificationVersion": SPECIFICATION_VERSION,
        "name": format!("reelforge {}", plan.pipeline_name),
        "description": format!(
            "Pipeline `{}` on {}, outputs in {}",
            plan.pipeline_name,
            plan.input.display(),
            plan.workdir.display()
        ),
        "parameterDefinitions": [
            {
                "name": "Plan",
                "type": "PATH",
                "objectType": "FILE",
                "dataFlow": "IN",
                "default": plan_path.display().to_string(),
                "description": "The plan.json written by `reelforge plan`."
            },
            {
                "name": "Reelforge",
                "type": "STRING",
                "default": plan.program.display().to_string(),
                "description": "The reelforge executable on the workers (same version as the plan)."
            }
        ],
        "steps": steps
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ChunkRequest;
    use crate::plan::tests::{THREE_STAGES, plan_for};

    #[test]
    fn one_step_per_task_with_dependencies_and_the_task_command() {
        let plan = plan_for(THREE_STAGES, Path::new("/farm"), ChunkRequest::Auto);
        let template = job_template(&plan, Path::new("/farm/work/plan.json"));
        assert_eq!(template["specificationVersion"], "jobtemplate-2023-09");
        assert_eq!(template["parameterDefinitions"][0]["default"], "/farm/work/plan.json");
        assert_eq!(template["parameterDefinitions"][1]["default"], "/opt/reelforge/bin/reelforge");
        let steps = template["steps"].as_array().unwrap();
        let names: Vec<&str> = steps.iter().filter_map(|step| step["name"].as_str()).collect();
        assert_eq!(names, ["probe", "shots", "artwork"]);
        assert!(steps[0].get("dependencies").is_none(), "an empty list is not allowed");
        assert_eq!(steps[1]["dependencies"], json!([{"dependsOn": "probe"}]));
        assert_eq!(steps[2]["dependencies"], json!([{"dependsOn": "shots"}]));
        let on_run = &steps[1]["script"]["actions"]["onRun"];
        assert_eq!(on_run["command"], "{{Param.Reelforge}}");
        assert_eq!(
            on_run["args"],
            json!(["task", "run", "shots", "--plan", "{{Param.Plan}}", "--progress", "openjd"])
        );
    }
}
