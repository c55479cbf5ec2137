//! Open Job Description job templates (specification `jobtemplate-2023-09`), the job format
//! of AWS Deadline Cloud: one step per task, and one step with a parameter space per array of
//! chunk tasks (e.g. RUNG x CHUNK), step dependencies from the task graph, and each step's
//! action the task's own command line.

use std::path::Path;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::plan::{Plan, Task};

pub const SPECIFICATION_VERSION: &str = "jobtemplate-2023-09";

/// The job template of `plan`, which lives at `plan_path`. The plan and the reelforge
/// executable are job parameters (a submitter can point them elsewhere); the workdir and input
/// are read from the plan, so workers need the same shared paths as the planning machine.
pub fn job_template(plan: &Plan, plan_path: &Path) -> Value {
    let step_of: BTreeMap<&str, &str> =
        plan.tasks.iter().map(|task| (task.id.as_str(), task.job_name())).collect();
    let mut steps: Vec<Value> = Vec::new();
    for group in plan.task_groups() {
        let first = &group[0];
        let name = first.job_name();
        let task_argument = match &first.array {
            // `{RUNG}` in the id template becomes the OpenJD parameter reference.
            Some(member) => member.id_template.replace('{', "{{Task.Param.").replace('}', "}}"),
            None => first.id.clone(),
        };
        let cpu_seconds: f64 = group.iter().map(|task| task.cost.cpu_seconds).sum();
        let mut step = json!({
            "name": name,
            "description": format!(
                "Stage `{}`, {} task(s) (about {:.0} CPU seconds in all); outputs {}",
                first.stage,
                group.len(),
                cpu_seconds,
                first.outputs.first().map(|path| path.display().to_string()).unwrap_or_default()
            ),
            "script": {
                "actions": {
                    "onRun": {
                        "command": "{{Param.Reelforge}}",
                        "args": ["task", "run", task_argument, "--plan", "{{Param.Plan}}", "--progress", "openjd"],
                        // Outputs are atomic, so a killed task leaves nothing half
                        // written; the notice only lets it stop between files.
                        "cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 30}
                    }
                }
            }
        });
        let Some(object) = step.as_object_mut() else { continue };
        if first.array.is_some() {
            object.insert("parameterSpace".to_owned(), parameter_space(group));
        }
        let mut dependencies: Vec<&str> = Vec::new();
        for task in group {
            for dependency in &task.dependencies {
                let step = step_of.get(dependency.as_str()).copied().unwrap_or(dependency.as_str());
                if step != name && !dependencies.contains(&step) {
                    dependencies.push(step);
                }
            }
        }
        if !dependencies.is_empty() {
            let dependencies: Vec<Value> =
                dependencies.iter().map(|step| json!({"dependsOn": step})).collect();
            object.insert("dependencies".to_owned(), Value::Array(dependencies));
        }
        steps.push(step);
    }
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

/// The INT task parameters of an array: each parameter's values; the array is their full
/// product (the default combination).
fn parameter_space(members: &[Task]) -> Value {
    let mut values: Vec<(String, Vec<usize>)> = Vec::new();
    for member in members.iter().filter_map(|task| task.array.as_ref()) {
        for (name, value) in &member.parameters {
            match values.iter_mut().find(|(known, _)| known == name) {
                Some((_, list)) if !list.contains(value) => list.push(*value),
                Some(_) => {}
                None => values.push((name.clone(), vec![*value])),
            }
        }
    }
    let definitions: Vec<Value> = values
        .into_iter()
        .map(|(name, mut range)| {
            range.sort_unstable();
            json!({"name": name, "type": "INT", "range": range})
        })
        .collect();
    json!({"taskParameterDefinitions": definitions})
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

    #[test]
    fn chunk_arrays_become_steps_with_a_parameter_space() {
        let plan = plan_for(crate::plan::tests::RENDITIONS, Path::new("/farm"), "3".parse().unwrap());
        let template = job_template(&plan, Path::new("/farm/work/plan.json"));
        let steps = template["steps"].as_array().unwrap();
        let names: Vec<&str> = steps.iter().filter_map(|step| step["name"].as_str()).collect();
        assert_eq!(names, ["probe", "renditions-video", "renditions-audio", "renditions"]);
        let video = &steps[1];
        assert_eq!(
            video["parameterSpace"]["taskParameterDefinitions"],
            json!([{"name": "RUNG", "type": "INT", "range": [0, 1, 2, 3, 4, 5, 6]},
                   {"name": "CHUNK", "type": "INT", "range": [0, 1, 2]}])
        );
        assert_eq!(
            video["script"]["actions"]["onRun"]["args"][2],
            "renditions-v{{Task.Param.RUNG}}-c{{Task.Param.CHUNK}}"
        );
        assert_eq!(video["dependencies"], json!([{"dependsOn": "probe"}]));
        assert_eq!(steps[2]["parameterSpace"]["taskParameterDefinitions"][0]["range"], json!([0, 1]));
        assert_eq!(
            steps[3]["dependencies"],
            json!([{"dependsOn": "renditions-video"}, {"dependsOn": "renditions-audio"}])
        );
    }

    #[test]
    fn subtitles_streams_become_one_step_whose_join_the_ladder_waits_for() {
        let yaml = "version: 1\nname: s\nstages:\n  - probe: {}\n  - subtitles: {}\n  - renditions: {}\n";
        let plan = plan_for(yaml, Path::new("/farm"), "2".parse().unwrap());
        let template = job_template(&plan, Path::new("/farm/work/plan.json"));
        let steps = template["steps"].as_array().unwrap();
        let names: Vec<&str> = steps.iter().filter_map(|step| step["name"].as_str()).collect();
        assert_eq!(
            names,
            ["probe", "subtitles-audio", "subtitles", "renditions-video", "renditions-audio", "renditions"]
        );
        assert_eq!(
            steps[1]["parameterSpace"]["taskParameterDefinitions"],
            json!([{"name": "AUDIO", "type": "INT", "range": [0, 1]}])
        );
        assert_eq!(steps[1]["script"]["actions"]["onRun"]["args"][2], "subtitles-a{{Task.Param.AUDIO}}");
        assert_eq!(steps[2]["dependencies"], json!([{"dependsOn": "subtitles-audio"}]));
        for step in &steps[3..5] {
            assert_eq!(step["dependencies"], json!([{"dependsOn": "probe"}, {"dependsOn": "subtitles"}]));
        }
    }
}
