# finetune rules: written with the finetune stage
