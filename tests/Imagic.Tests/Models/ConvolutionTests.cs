using Imagic.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Models;

/// <summary>
/// <see cref="Layers.Convolve"/> against a float64 reference (libtorch runs float64 convolutions natively, not through
/// oneDNN): the shapes whose forward or input gradient libtorch's float32 CPU convolution got wrong on an AVX-512 CPU, and
/// the plain path it must keep where nothing needs the input's gradient.
/// </summary>
public class ConvolutionTests
{
    [Theory]
    [InlineData(96, 4, 3, 1, 16)]  // the shapes UNet's conv_out
    [InlineData(32, 3, 3, 1, 32)]  // the 64-px VAE decoder's conv_out
    [InlineData(8, 8, 3, 1, 32)]   // the tests' small VAE
    [InlineData(24, 24, 3, 1, 16)]
    [InlineData(64, 8, 3, 1, 16)]  // the VAE encoder's conv_out (2 × 4 latent channels)
    [InlineData(8, 8, 3, 2, 32)]   // a stride-2 downsampler of a small VAE
    [InlineData(4, 4, 1, 1, 16)]   // post_quant_conv
    [InlineData(24, 32, 3, 1, 16)] // more than 16 input channels, not a multiple of 16: the forward was wrong too
    [InlineData(40, 8, 3, 1, 16)]
    [InlineData(64, 64, 3, 1, 16)] // a multiple of 16: the plain path
    public void Convolve_OutputAndGradients_MatchFloat64(int inChannels, int outChannels, int kernel, int stride, int size)
    {
        using var scope = torch.NewDisposeScope();
        var conv = Layers.Conv(inChannels, outChannels, kernel, stride: stride);
        using (torch.no_grad())
        {
            conv.weight!.copy_(torch.randn(conv.weight.shape, generator: new Generator(1)).Times(0.1));
            conv.bias!.copy_(torch.randn(conv.bias.shape, generator: new Generator(2)));
        }
        var input = torch.randn(4, inChannels, size, size, generator: new Generator(3)).requires_grad_(true);

        var output = conv.Convolve(input);
        var upstream = torch.randn(output.shape, generator: new Generator(4));
        (output * upstream).sum().backward();

        // The same convolution in float64, with its gradients from float64 autograd.
        var w64 = conv.weight.detach().to_type(ScalarType.Float64).requires_grad_(true);
        var x64 = input.detach().to_type(ScalarType.Float64).requires_grad_(true);
        long pad = (kernel - 1) / 2;
        var y64 = nn.functional.conv2d(x64, w64, conv.bias.detach().to_type(ScalarType.Float64), strides: new long[] { stride, stride }, padding: new long[] { pad, pad });
        (y64 * upstream.to_type(ScalarType.Float64)).sum().backward();

        AssertClose(y64, output, "output");
        AssertClose(x64.grad!, input.grad!, "input gradient");
        AssertClose(w64.grad!, conv.weight.grad!, "weight gradient");
    }

    [Fact]
    public void Convolve_WithoutInputGradient_IsThePlainConvolution()
    {
        using var scope = torch.NewDisposeScope();
        var conv = Layers.Conv(96, 4, 3);
        var input = torch.randn(2, 96, 8, 8, generator: new Generator(5));

        Assert.True(Tensors.Identical(conv.call(input), conv.Convolve(input)), "no input gradient: not the plain path");
        using (torch.no_grad())
            Assert.True(Tensors.Identical(conv.call(input), conv.Convolve(input.requires_grad_(true))), "no_grad: not the plain path");
    }

    static void AssertClose(Tensor expected64, Tensor actual, string what)
    {
        var expected = expected64.to_type(ScalarType.Float32);
        Assert.True(torch.isfinite(actual).all().item<bool>(), $"{what} has NaN or infinite values");
        double error = (actual - expected).abs().max().item<float>(), scale = expected.abs().max().item<float>();
        Assert.True(error <= 1e-4 * Math.Max(1, scale), $"{what} off by {error} (largest value {scale})");
    }
}
