"""exectune_rl.training."""
