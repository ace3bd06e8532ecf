"""exectune_rl.runtime."""
