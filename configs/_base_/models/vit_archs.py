# ViT architectures (mmpretrain VisionTransformer ``arch`` dicts), named as in the papers.
vit_tiny = dict(embed_dims=192, num_layers=12, num_heads=3, feedforward_channels=768)
vit_small = dict(embed_dims=384, num_layers=12, num_heads=6, feedforward_channels=1536)
vit_base = dict(embed_dims=768, num_layers=12, num_heads=12, feedforward_channels=3072)
vit_large = dict(embed_dims=1024, num_layers=24, num_heads=16, feedforward_channels=4096)
