using Imagic.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Models;

/// <summary>
/// Freeing intermediates as soon as they are consumed (<see cref="TensorExtensions.ConsumedBy"/>, SiLU in place without
/// gradients) changes memory only: the values stay the same, and gradients still flow.
/// </summary>
public class EarlyReleaseTests
{
    [Fact]
    public void ConsumedBy_FreesItsInput_AndKeepsTheResult()
    {
        using var x = torch.ones(3);

        var y = x.ConsumedBy(t => t.Plus(1));

        Assert.True(x.IsInvalid);
        Assert.Equal(new[] { 2f, 2f, 2f }, y.data<float>().ToArray());
        y.Dispose();
    }

    [Fact]
    public void ConsumedBy_WhenTheFunctionReturnsItsInput_KeepsIt()
    {
        using var x = torch.ones(3);

        var y = x.ConsumedBy(t => t.TimesInPlace(3));

        Assert.False(y.IsInvalid);
        Assert.Equal(new[] { 3f, 3f, 3f }, y.data<float>().ToArray());
    }

    [Fact]
    public void ResnetBlock_WithoutGradients_GivesBitwiseTheOutputItGivesWithGradients()
    {
        // Given a small resnet with a channel change and a time embedding
        using var resnet = new ResnetBlock2D(32, 64, 16, 8, 1e-5);
        using var scope = torch.NewDisposeScope();
        using var generator = new Generator(5);
        var x = torch.randn(new long[] { 2, 32, 8, 8 }, generator: generator);
        var temb = torch.randn(new long[] { 2, 16 }, generator: generator);

        // When it runs with gradients recorded (SiLU out of place) and without (SiLU in place)
        var withGrad = resnet.Forward(x, temb);
        Tensor withoutGrad;
        using (torch.no_grad())
            withoutGrad = resnet.Forward(x, temb);

        // Then the outputs are equal to the bit, the input is untouched, and backward reaches the weights
        Assert.True(withGrad.equal(withoutGrad).all().item<bool>());
        Assert.False(x.IsInvalid);
        withGrad.sum().backward();
        Assert.NotNull(resnet.conv1.weight!.grad);
        Assert.True(resnet.conv1.weight.grad!.abs().sum().item<float>() > 0);
    }
}
