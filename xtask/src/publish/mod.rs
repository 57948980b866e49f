//! Publish: what the layout holds, to every registry of the plan.
