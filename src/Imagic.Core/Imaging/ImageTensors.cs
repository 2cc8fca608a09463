using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Imaging;

/// <summary>Converts between 8-bit images and the [-1, 1] float tensors that the VAE reads and writes.</summary>
public static class ImageTensors
{
    /// <summary>
    /// The image as a float32 tensor of shape [1, 3, H, W] with values 2·(v/255) − 1 in [-1, 1], on the CPU,
    /// as diffusers' <c>VaeImageProcessor.preprocess</c> computes it.
    /// </summary>
    public static Tensor ToTensor(RgbImage image)
    {
        using var scope = torch.NewDisposeScope();
        var hwc = torch.tensor(image.Pixels, [image.Height, image.Width, 3], dtype: ScalarType.Byte);
        var chw = hwc.permute(2, 0, 1).unsqueeze(0).to_type(ScalarType.Float32);
        return chw.Over(255).Times(2).Minus(1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The 8-bit image of a [1, 3, H, W] or [3, H, W] tensor in [-1, 1]: each value becomes
    /// round(clamp(x/2 + 0.5, 0, 1)·255), rounding half to even as <c>torch.round</c> does.
    /// Values outside [-1, 1] are clamped; the tensor may be on any device and of any float dtype.
    /// </summary>
    public static RgbImage ToImage(Tensor tensor)
    {
        bool single = tensor.dim() == 3 || (tensor.dim() == 4 && tensor.shape[0] == 1);
        if (!single || tensor.shape[^3] != 3)
            throw new ArgumentException($"Expected an image tensor of shape [1, 3, H, W] or [3, H, W], got [{string.Join(", ", tensor.shape)}].", nameof(tensor));
        if (!torch.is_floating_point(tensor))
            throw new ArgumentException($"Expected a floating-point image tensor, got {tensor.dtype}.", nameof(tensor));

        using var scope = torch.NewDisposeScope();
        var chw = tensor.detach().cpu().to_type(ScalarType.Float32).reshape(3, tensor.shape[^2], tensor.shape[^1]);
        var scaled = chw.Over(2).Plus(0.5).ClampTo(0, 1).Times(255).round();
        var hwc = scaled.to_type(ScalarType.Byte).permute(1, 2, 0).contiguous();
        int height = (int)tensor.shape[^2], width = (int)tensor.shape[^1];
        return new RgbImage(width, height, hwc.data<byte>().ToArray());
    }
}
