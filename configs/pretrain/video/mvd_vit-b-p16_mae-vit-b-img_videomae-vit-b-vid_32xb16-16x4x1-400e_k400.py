# MVD with a ViT-B/16 student (decoder width as official ViT-B: the generators run at the
# teachers' width 768).
_base_ = ['./mvd_vit-s-p16_mae-vit-b-img_videomae-vit-b-vid_32xb16-16x4x1-400e_k400.py']

model = dict(backbone=dict(embed_dims=768, num_heads=12))
