"""Training and timing past one device with torch.distributed: FSDP2, tensor parallelism and activation
checkpointing applied to a built model from outside it (sharding.py), and N ranks launched through
torch.distributed's own launcher (launch.py)."""
