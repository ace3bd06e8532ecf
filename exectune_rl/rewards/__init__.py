"""exectune_rl.rewards."""
