using Imagic.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Pipelines;

/// <summary>
/// Tiled VAE decoding and encoding, as diffusers' <c>enable_vae_tiling</c>: the image is cut into overlapping square tiles
/// of the VAE's training size, each tile runs through the VAE alone, and each overlap is blended linearly from one tile
/// into the next. Memory then depends on the tile, not on the image: the decoder's working set at full resolution is
/// what limits the image size otherwise. A tile's GroupNorm sees only that tile, so the result is close to the
/// untiled one but not equal; an image no larger than one tile is not tiled at all, and comes out exactly as untiled.
/// </summary>
/// <remarks>
/// Same scheme as diffusers' <c>AutoencoderKL.tiled_decode</c>/<c>tiled_encode</c>: tiles start every
/// (1 − <see cref="Overlap"/>) tile sides; each tile's first <see cref="Overlap"/> of rows and columns is blended with the
/// tile above and the tile to the left, weights going linearly from the neighbour to the tile; then every tile gives
/// its first (1 − <see cref="Overlap"/>) of rows and columns to the output.
/// </remarks>
public sealed record VaeTiling
{
    /// <summary>Tile side in latent pixels. Default null: the VAE's <c>sample_size</c> over its downsampling factor (64 for SD 1.5's 512 px).</summary>
    public int? TileLatentSize { get; init; }

    /// <summary>The fraction of a tile shared with each neighbour and blended. Default 0.25, as diffusers.</summary>
    public double Overlap { get; init; } = 0.25;

    /// <summary>The tile side in latent pixels for <paramref name="vae"/>; checks the settings.</summary>
    public int LatentTile(AutoencoderKL vae)
    {
        int tile = TileLatentSize ?? Math.Max(1, vae.Config.SampleSize / vae.Config.DownsampleFactor);
        if (tile < 2)
            throw new ImagicException($"VAE tiling: the tile side must be at least 2 latent pixels, got {tile}.");
        if (!(Overlap >= 0 && Overlap < 1))
            throw new ImagicException($"VAE tiling: the overlap must be in [0, 1), got {Overlap}.");
        return tile;
    }

    /// <summary>Latents (already divided by the scaling factor) [B, C, h, w] → image [B, 3, h·f, w·f], tile by tile.</summary>
    public Tensor Decode(AutoencoderKL vae, Tensor latents)
    {
        int tile = LatentTile(vae);
        if (latents.shape[2] <= tile && latents.shape[3] <= tile)
            return vae.Decode(latents);
        int f = vae.Config.DownsampleFactor;
        return Tiled(latents, tile, tile * f, vae.Decode);
    }

    /// <summary>Image [B, 3, H, W] → the posterior's moments [B, 2C, H/f, W/f] (mean, then log-variance), tile by tile.</summary>
    public DiagonalGaussian Encode(AutoencoderKL vae, Tensor image)
    {
        int f = vae.Config.DownsampleFactor;
        int tile = LatentTile(vae) * f;
        if (image.shape[2] <= tile && image.shape[3] <= tile)
            return vae.Encode(image);
        using var scope = torch.NewDisposeScope();
        var moments = Tiled(image, tile, tile / f, t =>
        {
            var posterior = vae.Encode(t);
            return torch.cat(new[] { posterior.Mean, posterior.LogVar }, dim: 1);
        });
        var parts = moments.chunk(2, dim: 1);
        return new DiagonalGaussian(parts[0].contiguous().MoveToOuterDisposeScope(), parts[1].contiguous().MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Runs <paramref name="run"/> on overlapping tiles of side <paramref name="inTile"/> of <paramref name="input"/>, whose
    /// outputs have side <paramref name="outTile"/> for a full tile, and blends them into one output.
    /// </summary>
    Tensor Tiled(Tensor input, int inTile, int outTile, Func<Tensor, Tensor> run)
    {
        using var scope = torch.NewDisposeScope();
        int inStride = Math.Max(1, (int)(inTile * (1 - Overlap)));
        int blend = (int)(outTile * Overlap);
        int keep = outTile - blend;
        long height = input.shape[2], width = input.shape[3];
        var rows = new List<List<Tensor>>();
        for (long i = 0; i < height; i += inStride)
        {
            var row = new List<Tensor>();
            for (long j = 0; j < width; j += inStride)
            {
                var piece = input.narrow(2, i, Math.Min(inTile, height - i)).narrow(3, j, Math.Min(inTile, width - j));
                row.Add(run(piece));
            }
            rows.Add(row);
        }
        var outputRows = new List<Tensor>();
        for (int i = 0; i < rows.Count; i++)
        {
            var kept = new List<Tensor>();
            for (int j = 0; j < rows[i].Count; j++)
            {
                var t = rows[i][j];
                if (i > 0) BlendInto(rows[i - 1][j], t, blend, dim: 2);
                if (j > 0) BlendInto(rows[i][j - 1], t, blend, dim: 3);
                kept.Add(t.narrow(2, 0, Math.Min(keep, t.shape[2])).narrow(3, 0, Math.Min(keep, t.shape[3])));
            }
            outputRows.Add(torch.cat(kept, dim: 3));
        }
        return torch.cat(outputRows, dim: 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Blends the last <paramref name="extent"/> rows (dim 2) or columns (dim 3) of <paramref name="before"/> into the first
    /// ones of <paramref name="after"/>, in place: weight k/extent on <paramref name="after"/> at offset k.
    /// </summary>
    static void BlendInto(Tensor before, Tensor after, int extent, int dim)
    {
        extent = (int)Math.Min(extent, Math.Min(before.shape[dim], after.shape[dim]));
        if (extent == 0) return;
        using var scope = torch.NewDisposeScope();
        var shape = new long[] { 1, 1, 1, 1 };
        shape[dim] = extent;
        var weight = TensorExtensions.Arange(extent, after.dtype, after.device).Over(extent).view(shape);
        var head = after.narrow(dim, 0, extent);
        var tail = before.narrow(dim, before.shape[dim] - extent, extent);
        using (torch.no_grad())
            head.copy_((tail * weight.SubtractedFrom(1)).Plus(head * weight));
    }
}
