# pretrain rules: written with the pretrain stage
