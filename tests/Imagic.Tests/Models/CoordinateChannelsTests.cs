using Imagic.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Models;

/// <summary>The project's one UNet extension: x and y coordinate channels appended before conv_in.</summary>
public class CoordinateChannelsTests
{
    static UNet2DConditionConfig TinyUNet(int coordinateChannels) =>
        Sd2ArchitectureTests.TinyUNet(linear: false, heads: 4) with { CoordinateChannels = coordinateChannels };

    [Fact]
    public void CoordinateChannels_WithZeroWeights_GiveThePlainUNet()
    {
        torch.manual_seed(3);
        var plain = new UNet2DConditionModel(TinyUNet(0));
        var coords = new UNet2DConditionModel(TinyUNet(2));
        Assert.Equal(new long[] { 32, 6, 3, 3 }, coords.conv_in.weight!.shape);
        var coordParams = coords.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (torch.no_grad())
        {
            foreach (var (name, p) in plain.named_parameters())
            {
                if (name == "conv_in.weight")
                {
                    coordParams[name].zero_();
                    coordParams[name].narrow(1, 0, 4).copy_(p);
                }
                else
                    coordParams[name].copy_(p);
            }
        }

        using var _ = torch.no_grad();
        var x = torch.randn(2, 4, 8, 8);
        var ctx = torch.randn(2, 77, 32);
        var t = torch.tensor(new long[] { 10, 900 });
        Reference.AssertClose(plain.Forward(x, t, ctx), coords.Forward(x, t, ctx), 1e-6, "zero coordinate weights");

        // A weight on the x channel reaches the output.
        using (torch.no_grad())
            coordParams["conv_in.weight"].narrow(1, 4, 1).FillWith(0.5);
        var shifted = coords.Forward(x, t, ctx);
        Assert.True((shifted - plain.Forward(x, t, ctx)).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void CoordinateChannels_AreWrittenOnlyWhenUsed()
    {
        Assert.DoesNotContain("coordinate_channels", ModelConfigJson.Write(TinyUNet(0)));
        var json = ModelConfigJson.Write(TinyUNet(2));
        Assert.Contains("\"coordinate_channels\": 2", json);

        string path = Path.Combine(Path.GetTempPath(), $"imagic-coords-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try
        {
            Assert.Equal(2, UNet2DConditionConfig.FromFile(path).CoordinateChannels);
            File.WriteAllText(path, json.Replace("\"coordinate_channels\": 2", "\"coordinate_channels\": 3"));
            var error = Assert.Throws<ImagicException>(() => UNet2DConditionConfig.FromFile(path));
            Assert.Contains("coordinate_channels", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
