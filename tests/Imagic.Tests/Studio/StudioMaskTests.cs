using System.Net;
using Imagic.Editing;
using Imagic.Imaging;

namespace Imagic.Tests.Studio;

/// <summary>Stage C's edit mask through the studio's API: on or off per request, without retraining.</summary>
public class StudioMaskTests
{
    [Fact]
    public async Task Sample_WithMaskAuto_KeepsTheInputsPixelsOutsideTheRegion_AndWithMaskNoneTheyChange_WithoutRetraining()
    {
        // Given the bundled model and a run of samples/red-circle.png toward a blue circle, started with mask=auto
        await using var studio = await StudioTestHost.StartAsync(modelDir: StudioTestHost.FastBundledModelDir);
        var red = File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "samples", "red-circle.png"));
        var response = await studio.PostEditAsync("a large blue circle in the center on a grey background", stepsA: 20, stepsB: 10,
            image: red, change: f => f.Add(new StringContent("auto"), "mask"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        string id = (await StudioTestHost.Json(response)).GetProperty("id").GetString()!;
        var ready = await studio.WaitForStatusAsync(id, "ready", "failed");
        var runDir = Path.Combine(studio.RunsDir, id);
        var unet = File.GetLastWriteTimeUtc(Path.Combine(runDir, "unet_finetuned.safetensors"));

        // Then it reports its mask (so the page shows the control on), as its run folder records it; the model's default is none
        Assert.Equal(("ready", "auto"), (ready.GetProperty("status").GetString(), ready.GetProperty("mask").GetString()));
        Assert.Equal(EditMaskMode.Auto, EditRun.Open(runDir).ReadManifest().Options.Mask);
        var info = await StudioTestHost.Json(await studio.Client.GetAsync("/api/info"));
        Assert.Equal("none", info.GetProperty("defaults").GetProperty("mask").GetString());

        // When η = 1 is sampled with the run's own setting and with mask=none, and η = 0.6 with mask=auto
        var masked = await Png(studio, $"/api/edits/{id}/sample?eta=1&seed=0");
        var plain = await Png(studio, $"/api/edits/{id}/sample?eta=1&seed=0&mask=none");
        var maskedLow = await Png(studio, $"/api/edits/{id}/sample?eta=0.6&seed=0&mask=auto");
        var input = await Png(studio, $"/api/edits/{id}/input");
        var region = await Png(studio, $"/api/edits/{id}/mask");

        // Then the region is part of the image, neither nothing nor everything
        var far = FarFromRegion(region, radius: 2);
        Assert.InRange(far.Count(f => f), region.Width * region.Height / 10, region.Width * region.Height - 1);
        // and far from it both masked samples are the input bit for bit: one region composites every η
        Assert.Equal(Where(input, far), Where(masked, far));
        Assert.Equal(Where(input, far), Where(maskedLow, far));
        // while the sample without the mask repaints those pixels, and inside the region the masked one shows the edit
        Assert.NotEqual(Where(input, far), Where(plain, far));
        var inside = region.Pixels.Where((_, i) => i % 3 == 0).Select(v => v == 255).ToArray();
        Assert.NotEqual(Where(input, inside), Where(masked, inside));

        // And nothing was retrained; the region was estimated once and kept in the run folder
        Assert.Equal(unet, File.GetLastWriteTimeUtc(Path.Combine(runDir, "unet_finetuned.safetensors")));
        var again = await studio.Client.GetAsync($"/api/edits/{id}/mask");
        Assert.Equal("hit", again.Headers.GetValues("X-Imagic-Cache").Single());

        // And both are the images 'imagic sample' gives with --mask auto and --mask none
        var cli = EditWorkflow.SampleFromRun(runDir, [1.0], seedCount: 1, firstSeed: 0);
        Assert.Equal(ImageIO.Load(cli.ImagePaths[0]).Pixels, masked.Pixels);
        cli = EditWorkflow.SampleFromRun(runDir, [1.0], seedCount: 1, firstSeed: 0, new StageCOverrides { Mask = EditMaskMode.None });
        Assert.Equal(ImageIO.Load(cli.ImagePaths[0]).Pixels, plain.Pixels);

        // And a mask that is neither auto nor none is refused with one line
        await StudioApiTests.AssertOneLineError(await studio.Client.GetAsync($"/api/edits/{id}/sample?eta=1&mask=everything"),
            HttpStatusCode.BadRequest, "mask must be 'auto' or 'none', got 'everything'");
        await StudioApiTests.AssertOneLineError(await studio.Client.GetAsync($"/api/edits/{id}/grid?etas=1&mask=1"),
            HttpStatusCode.BadRequest, "mask");
    }

    static async Task<RgbImage> Png(StudioTestHost studio, string url)
    {
        var response = await studio.Client.GetAsync(url);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {response.StatusCode} {System.Text.Encoding.UTF8.GetString(bytes)}");
        var path = Path.Combine(TestPaths.NewTempDir("imagic-studio-mask"), "image.png");
        await File.WriteAllBytesAsync(path, bytes);
        return ImageIO.Load(path);
    }

    /// <summary>Pixels whose whole (2·radius + 1)² neighbourhood is black in the region image.</summary>
    static bool[] FarFromRegion(RgbImage region, int radius)
    {
        var far = new bool[region.Width * region.Height];
        for (int y = 0; y < region.Height; y++)
            for (int x = 0; x < region.Width; x++)
            {
                bool clear = true;
                for (int dy = -radius; dy <= radius && clear; dy++)
                    for (int dx = -radius; dx <= radius && clear; dx++)
                    {
                        int u = Math.Clamp(x + dx, 0, region.Width - 1), v = Math.Clamp(y + dy, 0, region.Height - 1);
                        clear = region.GetPixel(u, v) == Rgb.Black;
                    }
                far[y * region.Width + x] = clear;
            }
        return far;
    }

    /// <summary>The RGB bytes of the pixels where <paramref name="chosen"/> holds.</summary>
    static byte[] Where(RgbImage image, bool[] chosen) =>
        image.Pixels.Where((_, i) => chosen[i / 3]).ToArray();
}
