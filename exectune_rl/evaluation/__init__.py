"""exectune_rl.evaluation."""
