//! `version`, `tags` and `plan`: the plan, printed.

use anyhow::Result;

use crate::cli::JsonFlag;
use crate::report::{self, github, json, tables};
use crate::workspace::Workspace;

pub(super) fn version(ws: &Workspace) -> Result<()> {
    println!("{}", ws.plan.version);
    Ok(())
}

pub(super) fn tags(ws: &Workspace, flag: &JsonFlag) -> Result<()> {
    let plan = &ws.plan;
    report::rewrites(plan);
    let doc = json::tags_json(plan);
    if flag.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", tables::tags_text(plan));
    }
    github::plan_outputs(plan, &doc)
}

pub(super) fn plan(ws: &Workspace, flag: &JsonFlag) -> Result<()> {
    let plan = &ws.plan;
    report::rewrites(plan);
    if flag.json {
        println!("{}", serde_json::to_string_pretty(plan)?);
    } else {
        print!("{}", tables::plan_text(plan));
    }
    github::plan_outputs(plan, &serde_json::to_value(plan)?)
}
