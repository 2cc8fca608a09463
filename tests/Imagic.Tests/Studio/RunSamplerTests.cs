using Imagic.Editing;
using Imagic.Imaging;
using Imagic.Models;
using Imagic.Studio;
using Imagic.Tests.Editing;

namespace Imagic.Tests.Studio;

public class RunSamplerTests
{
    [Fact]
    public async Task Sample_OfARunThatForgets_AfterAnotherRun_EqualsImagicSample()
    {
        // Given two trained runs, the second forgetting the decoder, and a sampler that has already served the first
        var dir = TestPaths.NewTempDir();
        var image = EditTestData.WriteInputImage(dir, "photo.png");
        var (plain, _) = EditWorkflow.Start(new EditRequest(image, "a photo of a dog standing", TestPaths.TinySd1,
            Path.Combine(dir, "plain"), EditTestData.FastOptions with { EtaSweep = [1.0] }));
        var (forgetting, _) = EditWorkflow.Start(new EditRequest(image, "a photo of a cat", TestPaths.TinySd1,
            Path.Combine(dir, "forgetting"), EditTestData.FastOptions with { EtaSweep = [1.0], Forget = UNetHalf.Decoder }));
        using var sampler = new RunSampler(TestPaths.TinySd1);
        await sampler.SampleAsync(plain.Dir, 1.0, seed: 3, EditMaskMode.None, CancellationToken.None);

        // When it samples the forgetting run
        var (path, fromCache) = await sampler.SampleAsync(forgetting.Dir, 1.0, seed: 3, EditMaskMode.None, CancellationToken.None);

        // Then the image is the one 'imagic sample' gives, with the pretrained decoder and not the first run's
        Assert.False(fromCache);
        var expected = EditWorkflow.SampleFromRun(forgetting.Dir, [1.0], seedCount: 1, firstSeed: 3);
        Assert.Equal(ImageIO.Load(expected.ImagePaths[0]).Pixels, ImageIO.Load(path).Pixels);
    }
}
