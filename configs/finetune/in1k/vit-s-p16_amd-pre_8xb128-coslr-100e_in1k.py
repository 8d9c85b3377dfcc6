# ImageNet-1K fine-tuning of an AMD ViT-S/16 student (layer decay 0.75, 100 epochs).
_base_ = ['../../_base_/finetune/in1k_vit_finetune.py']
